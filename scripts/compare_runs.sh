#!/bin/sh
# Whether two fastadv builds compute the same numbers: 29-iteration
# Fashion-MNIST runs (cnn with 4 filters, eps 51, --debug: 4 batches of 16
# per epoch, 7 epochs after epoch 0; 57 with Free's replay of 2) of every
# training attack, with and without GradAlign, by both binaries; the
# reports of the metrics files (their values, without time_s and without
# the records) must be identical byte for byte, and so must the logs
# without their time stamps and times.
#
#   scripts/compare_runs.sh OLD/fastadv NEW/fastadv [WORK_DIR]
#
# Prints one line per run with the reports' SHA-256 (first 16 hex digits);
# exit status 1 when anything differs. Logs of builds on either side of a
# change to the log's text (e.g. the final line) differ by design: read the
# diff in WORK_DIR/{old,new}/<run>.log.
set -u
old=$1 new=$2 w=${3:-/tmp/fastadv_compare_runs}
rm -rf "$w" && mkdir -p "$w/old" "$w/new"
common="--dataset=fmnist --model=cnn --n_filters_cnn=4 --eps=51 --epochs=7 --debug --batch_size=16 --eval_iter_freq=5
        --n_eval_every_k_iter=64 --attack_iters=3 --n_final_eval=100 --batch_size_eval=100 --lr_max=0.003
        --pgd_train_n_iters=3 --pgd_alpha_train=16"
status=0
for v in "fgsm:--attack=fgsm --attack_init=zero" "fgsm_rs:--attack=fgsm --attack_init=random" \
         "free:--attack=fgsm --minibatch_replay=2 --attack_init=zero" "pgd:--attack=pgd" \
         "pgd_corner:--attack=pgd_corner" "random_corner:--attack=random_corner" "none:--attack=none"; do
  name=${v%%:*} flags=${v#*:}
  for lambda in 0 0.5; do
    run=$name-$lambda
    for side in old new; do
      if [ $side = old ]; then bin=$old; else bin=$new; fi
      # shellcheck disable=SC2086
      OMP_NUM_THREADS=2 "$bin" train $common $flags --grad_align_cos_lambda=$lambda --out_dir="$w/$side/$run" \
        >/dev/null 2>&1 || { echo "$side $run: training failed"; status=1; }
      grep -h '^{"iteration"' "$w/$side/$run"/logs/*.jsonl | sed 's/"time_s": [0-9.e+-]*, //' > "$w/$side/$run.reports"
      sed 's/^\[[-0-9 :]*\] //; s/ ([0-9.]*m)$//; s/ ([0-9.]*s)$//; s/^run: [-0-9]* [0-9:]* /run: /' \
        "$w/$side/$run"/logs/*.log > "$w/$side/$run.log"
    done
    n=$(wc -l < "$w/new/$run.reports")
    if [ "$n" -gt 0 ] && cmp -s "$w/old/$run.reports" "$w/new/$run.reports"; then
      echo "$run: $n reports identical, sha256 $(sha256sum < "$w/new/$run.reports" | cut -c1-16)"
    else
      echo "$run: reports DIFFER"; status=1
    fi
    cmp -s "$w/old/$run.log" "$w/new/$run.log" || { echo "$run: logs differ"; status=1; }
  done
done
exit $status
