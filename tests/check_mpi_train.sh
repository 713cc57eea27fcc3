#!/bin/sh
# `fastadv train` and `fastadv eval` spread over 2 processes (docs/SCALE.md),
# against one process, on small subsets of Fashion-MNIST with the cnn (no
# batch norm), FGSM + GradAlign:
#
#   tests/check_mpi_train.sh CASE FASTADV MODEL_DIFF LAUNCHER
#
#   step     one step on a global batch of 31 (slices of 15 and 16): the
#            model after it at N = 2 equals N = 1's within float summation
#            (largest difference below 1e-5 of the largest parameter; the
#            sums of the slices' gradients round differently)
#   band     100 steps (320 examples, batches of 32, 10 epochs): N = 2's
#            last training loss within 0.005 of N = 1's, its final clean and
#            PGD-50-10 accuracies within 2 of the 64 examples; two N = 2 runs end with
#            the same model bits and the same final record
#   eval     fastadv eval of 250 examples of one model: N = 1 at batches of
#            64 and 256 and N = 2 at 64 (4 batches, the last short), 63 and
#            the default (cut to 8 batches of 32 under 2 processes) write the
#            same per-example results and print the same accuracies, for PGD
#            and for APGD-CE; other test images on rank 1 are refused (status 1)
#   faults   missing data on rank 1, other data on rank 1: every rank
#            stops, one message names rank 1 and the cause, status 1, no
#            model written; a wrong flag: status 2, one message
#   kill     kill -9 of rank 1 after iteration 40 of a 300-step N = 2 run, then
#            --resume at N = 2: the same final model bits as an
#            uninterrupted N = 2 run
#
# Exit 0 passed, 1 failed, 77 skipped (no launcher, a build without MPI, or
# no Fashion-MNIST).
set -u
case=$1 fastadv=$2 diff=$3 launcher=${4:-}
. "$(dirname "$0")/mpi_launcher.sh"
# rank 0 and 1 split the CPUs rather than each bound to one core
case $flags in --oversubscribe*) flags="$flags --bind-to none" ;; esac
fmnist=/usr/share/datasets/fashion-mnist
if [ ! -r "$fmnist/train-images-idx3-ubyte.gz" ] || [ ! -r "$fmnist/t10k-images-idx3-ubyte.gz" ]; then
  echo "skipped: Fashion-MNIST is not installed (scripts/setup.sh installs dataset-fashion-mnist)"
  exit 77
fi
# subset DIR N_TRAIN N_TEST [SKIP]: the first N examples of each split (after SKIP training ones), as IDX files
be32() { printf "\\$(printf %03o $(($1 >> 24 & 255)))\\$(printf %03o $(($1 >> 16 & 255)))\\$(printf %03o $(($1 >> 8 & 255)))\\$(printf %03o $(($1 & 255)))"; }
subset() {
  mkdir -p "$1"
  for split in train:$2:${4:-0} t10k:$3:0; do
    name=${split%%:*} rest=${split#*:}
    n=${rest%%:*} skip=${rest#*:}
    { printf '\000\000\010\003'; be32 "$n"; be32 28; be32 28
      zcat "$fmnist/$name-images-idx3-ubyte.gz" | tail -c +$((17 + skip * 784)) | head -c $((n * 784)); } \
      > "$1/$name-images-idx3-ubyte"
    { printf '\000\000\010\001'; be32 "$n"
      zcat "$fmnist/$name-labels-idx1-ubyte.gz" | tail -c +$((9 + skip)) | head -c "$n"; } \
      > "$1/$name-labels-idx1-ubyte"
  done
}

common="--dataset=fmnist --model=cnn --n_filters_cnn=4 --attack=fgsm --grad_align_cos_lambda=0.2 --eps=8
  --lr_schedule=constant --lr_max=0.003 --n_eval_every_k_iter=64 --attack_iters=2 --n_final_eval=64
  --batch_size_eval=32 --checkpoint_every=10"

# train NAME N FLAGS...: N processes (1: no launcher) into $tmp/NAME/; status, output and time in $tmp/NAME.*
train() {
  name=$1 n=$2
  shift 2
  mkdir -p "$tmp/$name"
  start=$(date +%s)
  if [ "$n" = 1 ]; then
    timeout -k 5 200 "$fastadv" train $common --out_dir="$tmp/$name" "$@" > "$tmp/$name.out" 2> "$tmp/$name.err"
  else
    timeout -k 5 200 "$launcher" $flags -n "$n" "$fastadv" train $common --out_dir="$tmp/$name" "$@" \
      > "$tmp/$name.out" 2> "$tmp/$name.err"
  fi
  echo $? > "$tmp/$name.status"
  echo "--- $name ($n processes): status $(cat "$tmp/$name.status"), $(($(date +%s) - start)) s"
}
status() { cat "$tmp/$1.status"; }
model() { ls "$tmp/$1"/models/*.safetensors 2>/dev/null | grep -v '_best\.safetensors$' | head -1; }
# the last value of KEY in run NAME's metrics, and its final record
last_value() { grep -o "\"$2\": [-0-9.e]*" "$tmp/$1"/logs/*.jsonl | tail -1 | sed 's/.*: //'; }
final_record() { grep '^{"final"' "$tmp/$1"/logs/*.jsonl | sed 's/"time_s": [0-9.e]*//g'; }
# compare A B: prints the difference of the two runs' models; "identical: yes|no" and "relative R" in $tmp/diff
compare() {
  if ! "$diff" "$(model "$1")" "$(model "$2")" > "$tmp/diff"; then
    fail "the models of $1 and $2 cannot be compared"
    echo "identical: no relative 1" > "$tmp/diff"
  fi
  echo "$1 against $2: $(cat "$tmp/diff")"
}
# the processes whose command line holds ARG as one of its arguments (from /proc: no procps needed)
processes_with() { grep -lzxF -- "$1" /proc/[0-9]*/cmdline 2>/dev/null | sed 's|^/proc/\([0-9]*\)/cmdline$|\1|'; }
within() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t) }'; }

case $case in
step)
  subset "$tmp/data" 31 64
  train one 1 --data_dir="$tmp/data" --batch_size=31 --epochs=1 --eval_iter_freq=1
  train two 2 --data_dir="$tmp/data" --batch_size=31 --epochs=1 --eval_iter_freq=1
  [ "$(status one)" = 0 ] && [ "$(status two)" = 0 ] || { cat "$tmp/one.err" "$tmp/two.err"; fail "a run failed"; }
  grep -q "run: .* (2 processes, .*launched by" "$tmp"/two/logs/*.log || fail "the log does not say 2 processes ran"
  grep -q '"processes": 2' "$tmp"/two/logs/*.jsonl || fail "the config record does not say 2 processes"
  grep -q '"processes": 1' "$tmp"/one/logs/*.jsonl || fail "the config record does not say 1 process"
  compare one two
  r=$(sed 's/.*relative \([^)]*\)).*/\1/' "$tmp/diff")
  within "$r" 0 1e-5 || fail "one step at N = 2 is $r (relative) from N = 1's"
  grep -q "identical: yes" "$tmp/diff" && echo "(the same bits)"
  l1=$(last_value one train.loss) l2=$(last_value two train.loss)
  echo "the step's training loss: $l1 (N = 1), $l2 (N = 2)"
  within "$l1" "$l2" 1e-5 || fail "the losses after one step differ by more than 1e-5"
  ;;
band)
  subset "$tmp/data" 320 64
  train one 1 --data_dir="$tmp/data" --batch_size=32 --epochs=10 --eval_iter_freq=20
  train two 2 --data_dir="$tmp/data" --batch_size=32 --epochs=10 --eval_iter_freq=20
  train again 2 --data_dir="$tmp/data" --batch_size=32 --epochs=10 --eval_iter_freq=20
  for r in one two again; do [ "$(status $r)" = 0 ] || { cat "$tmp/$r.err"; fail "run $r failed"; }; done
  l1=$(last_value one train.loss) l2=$(last_value two train.loss)
  echo "last training loss: $l1 (N = 1), $l2 (N = 2)"
  within "$l1" "$l2" 0.005 || fail "the losses differ by more than 0.005"
  for key in clean_acc robust_acc; do
    a=$(final_record one | grep -o "\"last\": {\"$key\": [0-9.e-]*\|\"$key\": [0-9.e-]*" | head -1 | sed 's/.*: //')
    b=$(final_record two | grep -o "\"last\": {\"$key\": [0-9.e-]*\|\"$key\": [0-9.e-]*" | head -1 | sed 's/.*: //')
    echo "final $key: $a (N = 1), $b (N = 2)"
    within "$a" "$b" 0.032 || fail "final $key differs by more than 2 of 64 examples"
  done
  compare two again
  grep -q "identical: yes" "$tmp/diff" || fail "two N = 2 runs end with different models"
  [ -n "$(final_record two)" ] && [ "$(final_record two)" = "$(final_record again)" ] ||
    fail "two N = 2 runs end with different final records"
  ;;
eval)
  subset "$tmp/data" 31 250
  train one 1 --data_dir="$tmp/data" --batch_size=31 --epochs=2 --eval_iter_freq=100
  [ "$(status one)" = 0 ] || { cat "$tmp/one.err"; fail "training failed"; }
  m=$(model one)
  for attack in "pgd --attack_iters=5 --n_restarts=2" "apgd_ce --attack_iters=5"; do
    a=${attack%% *}
    for run in "1 64" "1 256" "2 64" "2 63" "2 default"; do
      n=${run% *} b=${run#* }
      out=$tmp/eval_${a}_${n}_$b
      batch=--batch_size_eval=$b
      [ "$b" = default ] && batch=
      if [ "$n" = 1 ]; then
        timeout -k 5 200 "$fastadv" eval --model_path="$m" --data_dir="$tmp/data" --eps=8 --attack=$attack \
          $batch --results_json="$out.json" > "$out.out" 2> "$out.err"
      else
        timeout -k 5 200 "$launcher" $flags -n 2 "$fastadv" eval --model_path="$m" --data_dir="$tmp/data" --eps=8 \
          --attack=$attack $batch --results_json="$out.json" > "$out.out" 2> "$out.err"
      fi
      [ $? = 0 ] || { cat "$out.err"; fail "eval $a at N = $n, batch $b failed"; }
      sed 's/ ([0-9.]*s)$//; s/ ([0-9.]* s)$//; s/total time [0-9.]* s//' "$out.out" > "$out.result"
      echo "$a N = $n batch $b: $(head -1 "$out.result" | sed 's/.*: clean/clean/')"
    done
    # no --batch_size_eval at N = 2: batches of 32 (a quarter of each process's 125), 8 of them
    grep -q 'eval: 8/8 ' "$tmp/eval_${a}_2_default.err" ||
      fail "$a: N = 2 without --batch_size_eval did not evaluate in 8 batches"
    for other in 1_256 2_64 2_63 2_default; do
      cmp -s "$tmp/eval_${a}_1_64.result" "$tmp/eval_${a}_$other.result" ||
        fail "$a: the accuracies at $other differ from N = 1 at batch 64"
      cmp -s "$tmp/eval_${a}_1_64.json.examples.jsonl" "$tmp/eval_${a}_$other.json.examples.jsonl" ||
        fail "$a: the per-example results at $other differ from N = 1 at batch 64"
    done
  done
  # rank 1 with other test images (200, not 250): refused before any work, status 1
  mkdir -p "$tmp/erank0" && ln -s ../data "$tmp/erank0/data"
  subset "$tmp/erank1/data" 31 200
  timeout -k 5 200 "$launcher" $flags -n 2 sh -c 'cd "$1/erank$OMPI_COMM_WORLD_RANK$PMI_RANK" && shift && exec "$@"' sh \
    "$tmp" "$fastadv" eval --model_path="$m" --data_dir=data --eps=8 > "$tmp/edata.out" 2> "$tmp/edata.err"
  s=$?
  echo "--- eval, other test images on rank 1: status $s"
  [ $s = 1 ] || fail "eval with other data on rank 1: status $s, not 1"
  grep -q "the ranks do not run the same job: 1 of 2 ranks (1) differ from rank 0 in images" "$tmp/edata.err" ||
    { cat "$tmp/edata.err"; fail "eval: no message naming rank 1 and its images"; }
  ;;
faults)
  # rank 1 starts in a directory without the data (its node lacks it), then in one with other data
  subset "$tmp/rank0/data" 64 64
  subset "$tmp/other/data" 64 64 64
  mkdir -p "$tmp/rank1" "$tmp/missing" "$tmp/differ"
  start=$(date +%s)
  timeout -k 5 200 "$launcher" $flags -n 2 sh -c 'cd "$1/rank$OMPI_COMM_WORLD_RANK$PMI_RANK" && shift && exec "$@"' sh \
    "$tmp" "$fastadv" train $common --data_dir=data --batch_size=32 --epochs=1 --out_dir="$tmp/missing" \
    > "$tmp/missing.out" 2> "$tmp/missing.err"
  echo "--- missing data on rank 1: status $?, $(($(date +%s) - start)) s"
  cat "$tmp/missing.err"
  grep -q "^fastadv train: the run stopped: rank 1 of 2 (host [^)]*): --data_dir=data" "$tmp/missing.err" ||
    fail "no message naming rank 1 and its missing data"
  [ "$(grep -c 'the run stopped' "$tmp/missing.err")" = 1 ] || fail "not one message"
  ln -s ../other/data "$tmp/rank1/data"
  timeout -k 5 200 "$launcher" $flags -n 2 sh -c 'cd "$1/rank$OMPI_COMM_WORLD_RANK$PMI_RANK" && shift && exec "$@"' sh \
    "$tmp" "$fastadv" train $common --data_dir=data --batch_size=32 --epochs=1 --out_dir="$tmp/differ" \
    > "$tmp/differ.out" 2> "$tmp/differ.err"
  s=$?
  echo "--- other data on rank 1: status $s"
  cat "$tmp/differ.err"
  [ $s = 1 ] || fail "other data on rank 1: status $s, not 1"
  grep -q "the ranks do not run the same job: 1 of 2 ranks (1) differ from rank 0 in training images" \
    "$tmp/differ.err" || fail "no message naming rank 1 and its data"
  for d in missing differ; do
    [ -z "$(ls "$tmp/$d/models" 2>/dev/null)" ] || fail "$d: a model was written"
  done
  # a wrong command line: status 2 and one message, not one per rank
  timeout -k 5 60 "$launcher" $flags -n 2 "$fastadv" train $common --no_such_flag=1 > "$tmp/usage.out" 2> "$tmp/usage.err"
  s=$?
  echo "--- a wrong flag under the launcher: status $s"
  cat "$tmp/usage.err"
  [ $s = 2 ] || fail "a wrong flag: status $s, not 2"
  [ "$(grep -c 'no_such_flag' "$tmp/usage.err")" = 1 ] || fail "a wrong flag: not one message"
  ;;
kill)
  subset "$tmp/data" 320 64
  train whole 2 --data_dir="$tmp/data" --batch_size=32 --epochs=30 --eval_iter_freq=20
  mkdir -p "$tmp/killed"
  "$launcher" $flags -n 2 "$fastadv" train $common --data_dir="$tmp/data" --batch_size=32 --epochs=30 \
    --eval_iter_freq=20 --out_dir="$tmp/killed" > "$tmp/killed.out" 2> "$tmp/killed.err" &
  launched=$!
  # rank 1, once the run has written a checkpoint past iteration 30
  victim="" ranks=""
  for _ in $(seq 1 600); do
    if [ -z "$victim" ]; then
      ranks=$(processes_with "--out_dir=$tmp/killed")
      for p in $ranks; do
        tr '\0' '\n' < /proc/$p/environ 2>/dev/null | grep -q '^OMPI_COMM_WORLD_RANK=1$\|^PMI_RANK=1$' && victim=$p
      done
    fi
    [ -n "$victim" ] && grep -q '"iteration": 40,' "$tmp"/killed/logs/*.jsonl 2>/dev/null && break
    sleep 0.1
  done
  [ -n "$victim" ] && kill -9 "$victim"
  wait $launched
  s=$?
  echo "--- killed rank 1 (pid $victim): the launcher's status $s"
  [ -n "$victim" ] && [ $s != 0 ] || fail "rank 1 was not killed in the middle of the run (status $s)"
  # the other rank ends too (the launcher stops it; it may outlive the launcher by a moment)
  # (kill -0: a process that ended but was not yet waited for still holds the run's lock)
  for p in $ranks; do
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$p" 2>/dev/null && fail "rank process $p of the killed run is still there 20 s after the kill"
  done
  [ -z "$(model killed)" ] || fail "the killed run wrote its final model"
  ckpt=$(ls "$tmp"/killed/checkpoints/*.safetensors | head -1)
  train killed 2 --data_dir="$tmp/data" --batch_size=32 --epochs=30 --eval_iter_freq=20 --resume="$ckpt"
  cat "$tmp/killed.err"
  [ "$(status killed)" = 0 ] || fail "the resumed run failed"
  grep -q "resumed at iteration [1-9][0-9]* of 301 from .* (2 processes" "$tmp"/killed/logs/*.log ||
    fail "the log does not say where 2 processes resumed"
  compare whole killed
  grep -q "identical: yes" "$tmp/diff" || fail "the resumed run ends with another model than the uninterrupted one"
  [ "$(final_record whole)" = "$(final_record killed)" ] || fail "the final records differ"
  ;;
*)
  echo "usage: check_mpi_train.sh step|band|eval|faults|kill FASTADV MODEL_DIFF LAUNCHER"
  exit 2
  ;;
esac
[ $failed = 0 ] && echo "$case: passed"
exit $failed
