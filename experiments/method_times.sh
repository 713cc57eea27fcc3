#!/usr/bin/env bash
# Training time per epoch of each fast method, relative to FGSM (docs/EXPERIMENTS.md,
# "Fast methods"), in the sweeps' setups (eps_sweep.sh) at eps EPS_TIME. Each method
# trains 1 epoch and 2 epochs (no periodic statistics after iteration 0, no resume
# checkpoints, a final evaluation of 16 images); the difference of the two processes'
# CPU times (user + system, one thread) is one epoch of training, whatever else runs on
# the machine. Methods alternate, REPS rounds; medians over the rounds.
# Not at nice 19 (NICE=0 unless given): the time is the method's, not the queue's.
# SEED_TIME: the seed (default 0; the time does not depend on it, but a run that stops on a
# NaN stops the measurement: CIFAR-10's GradAlign seed 0 does, in its second epoch).
# Usage: experiments/method_times.sh fmnist|cifar10
# Writes $RUNS/times/<dataset>.tsv (every measurement) and <dataset>.md (the table).
NICE=${NICE:-0}
source "$(dirname "$0")/lib.sh"
dataset=${1:-}
case $dataset in
  fmnist)
    EPS_TIME=${EPS_TIME:-51}
    setup=(--dataset=fmnist --model=cnn --n_layers=1 --n_filters_cnn=16 --lr_schedule=constant --lr_max=0.001) ;;
  cifar10)
    EPS_TIME=${EPS_TIME:-8}
    setup=(--dataset=cifar10 --data_dir="$(cifar10_dir)" --model=cnn --n_layers=1 --n_filters_cnn=4 --lr_max=0.003) ;;
  *) echo "usage: experiments/method_times.sh fmnist|cifar10" >&2; exit 2 ;;
esac
REPS=${REPS:-3}
METHODS=${METHODS:-fgsm fgsm_rs nfgsm fgsm_ga elle_a pgd2 pgd10}
out=$RUNS/times
mkdir -p "$out"
tsv=$out/$dataset.tsv
tmp=$(mktemp -d /tmp/fastadv_times.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
echo -e "round\tmethod\tepochs\tcpu_s\twall_s" > "$tsv"
for round in $(seq 1 "$REPS"); do
  for m in $METHODS; do
    for epochs in 1 2; do
      rm -rf "$tmp/run"
      /usr/bin/time -f "%U %S %e" -o "$tmp/time" nice -n "$NICE" "$FASTADV" train "${setup[@]}" --eps="$EPS_TIME" \
        $(method_flags "$m" "$EPS_TIME" 1.0 2) --epochs=$epochs --eval_iter_freq=1000000 --checkpoint_every=0 \
        --n_eval_every_k_iter=16 --n_final_eval=16 --seed="${SEED_TIME:-0}" --out_dir="$tmp/run" > "$tmp/stdout" 2>&1 ||
        { cat "$tmp/stdout" >&2; exit 1; }
      read -r user sys wall < "$tmp/time"
      echo -e "$round\t$m\t$epochs\t$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')\t$wall" >> "$tsv"
    done
  done
done
# per method and round: the second epoch's CPU seconds; medians; relative to FGSM
awk -F'\t' 'NR > 1 { t[$2 "\t" $1] += ($3 == 2 ? $4 : -$4); w[$2 "\t" $1] += ($3 == 2 ? $5 : -$5) }
  END { for (k in t) print k "\t" t[k] "\t" w[k] }' "$tsv" | sort -k1,1 -k3,3g |
awk -F'\t' -v methods="$METHODS" -v reps="$REPS" -v setup="$dataset, eps $EPS_TIME" '
  { v[$1, ++n[$1]] = $3; wv[$1, n[$1]] = $4 }
  function median(a, k, c,   i, j, x, s) {  # median of a[k, 1..c], a sorted copy
    for (i = 1; i <= c; i++) s[i] = a[k, i]
    for (i = 2; i <= c; i++) { x = s[i]; for (j = i - 1; j >= 1 && s[j] > x; j--) s[j + 1] = s[j]; s[j + 1] = x }
    return c % 2 ? s[(c + 1) / 2] : (s[c / 2] + s[c / 2 + 1]) / 2
  }
  END {
    split(methods, ms, " ")
    f = median(v, "fgsm", n["fgsm"])
    printf "| method (%s) | CPU s per epoch (median of %d) | relative to FGSM | wall s per epoch (median) |\n", setup, reps
    print "|---|---:|---:|---:|"
    for (i = 1; i in ms; i++) {
      c = median(v, ms[i], n[ms[i]])
      printf "| %s | %.1f | %.2f | %.1f |\n", ms[i], c, c / f, median(wv, ms[i], n[ms[i]])
    }
  }' | tee "$out/$dataset.md"
