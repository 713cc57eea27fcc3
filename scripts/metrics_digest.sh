#!/bin/sh
# Digests of short training runs, to show a change leaves the numbers bit
# for bit as they were: for each training attack (FGSM from 0, FGSM-RS, AT
# for Free, PGD, PGD-corner, random corner, none), without and with
# GradAlign, a short Fashion-MNIST run (cnn, --debug: 4 batches of 64 per
# epoch, 7 epochs: 29 iterations; Free: m=4, 2 epochs: 33), then one line per
# run, two sha256 digests (the first 32 hex digits): of its metric values
# (every JSONL report without its time field; records other than reports,
# such as "config" or "final", left out) and its run name without the
# timestamp; and of its final evaluation's accuracies (the log's
# "[final: ...]" lines without their time; with --debug the final
# evaluation is PGD-10-3, as in the paper's train.py); then
# `fastadv eval` of the first run's checkpoint (PGD-5-2 and the default
# PGD-50-10): the digest of what it prints, without the time.
#
#   scripts/metrics_digest.sh [FASTADV] [WORKDIR]
#     FASTADV  the program to run (default build/fastadv)
#     WORKDIR  where the runs go (default: a new directory under /tmp)
# Run it with two builds and compare the outputs (diff). Takes under a
# minute on 2 cores; set OMP_NUM_THREADS to share the machine.
set -eu
fastadv=${1:-build/fastadv}
work=${2:-$(mktemp -d /tmp/metrics_digest.XXXXXX)}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
common="--dataset=fmnist --model=cnn --n_filters_cnn=4 --debug --batch_size=64 --lr_schedule=constant \
--lr_max=0.003 --eps=51 --eval_iter_freq=5 --n_eval_every_k_iter=64 --attack_iters=5 --n_final_eval=100 \
--batch_size_eval=100 --eval_early_stopped_model --checkpoint_every=0"

digest() {  # $1: the run's directory
  /usr/bin/python3 - "$1" <<'PY'
import glob, hashlib, json, re, sys
d = sys.argv[1]
(jsonl,) = glob.glob(d + "/logs/*.jsonl")
(log,) = glob.glob(d + "/logs/*.log")
reports, final = hashlib.sha256(), hashlib.sha256()
for line in open(jsonl):
    record = json.loads(line)
    if "iteration" not in record:
        continue  # not a report
    record.pop("time_s", None)
    reports.update(json.dumps(record, sort_keys=True).encode() + b"\n")
reports.update(jsonl.rsplit("/", 1)[1][len("YYYY-MM-DD HH:MM:SS "):-len(".jsonl")].encode())
for line in open(log):
    if "[final: " in line:
        final.update(re.sub(r" \([0-9.]+s\)$", "", line.split("] ", 1)[1].rstrip("\n")).encode() + b"\n")
print(reports.hexdigest()[:32], final.hexdigest()[:32])
PY
}

run() {  # $1: a label, then the run's flags
  label=$1
  shift
  for lambda in 0 1; do
    dir="$work/$label-lambda$lambda"
    rm -rf "$dir"
    mkdir -p "$dir"
    # shellcheck disable=SC2086
    "$fastadv" train $common "$@" --grad_align_cos_lambda=$lambda --out_dir="$dir" >"$dir/stdout" 2>"$dir/stderr" ||
      { echo "$label lambda=$lambda: fastadv failed, see $dir/stderr" >&2; exit 1; }
    printf '%-16s lambda=%s  %s\n' "$label" "$lambda" "$(digest "$dir")"
  done
}

run fgsm --attack=fgsm --attack_init=zero --epochs=7
run fgsm_rs --attack=fgsm --attack_init=random --epochs=7
run free --attack=fgsm --attack_init=zero --minibatch_replay=4 --epochs=2
run pgd --attack=pgd --pgd_train_n_iters=3 --pgd_alpha_train=16 --epochs=7
run pgd_corner --attack=pgd_corner --pgd_train_n_iters=3 --pgd_alpha_train=16 --epochs=7
run random_corner --attack=random_corner --epochs=7
run none --attack=none --epochs=7

eval_digest() {  # $@: eval's flags
  dir="$work/fgsm-lambda0"
  "$fastadv" eval --model_path="$(ls "$dir"/models/*[0-9].safetensors)" --n_eval=100 --batch_size_eval=100 "$@" \
    2>/dev/null | sed 's/^.*[.]safetensors: //; s/ ([0-9.]*s)$//' | sha256sum | cut -d' ' -f1
}
printf '%-16s %-8s  %s\n' "eval" "pgd-5-2" "$(eval_digest --attack_iters=5 --n_restarts=2)"
printf '%-16s %-8s  %s\n' "eval" "pgd" "$(eval_digest)"
