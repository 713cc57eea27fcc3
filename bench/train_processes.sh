#!/bin/sh
# Training throughput of one run on 2 processes of 1 thread each (mpirun)
# against 1 process of 2 threads (docs/SCALE.md), alternately, REPS times:
#
#   bench/train_processes.sh BUILD [REPS]     (default 2)
#
# Two jobs: PreAct ResNet-18 FGSM on CIFAR-10 (batch 128, 4 training steps
# after epoch 0's measuring one: --debug --epochs=1) and the cnn with 16
# filters, FGSM + GradAlign, on Fashion-MNIST (batch 128, 40 steps). Each line
# is the images/s of the training loop that the progress line ends with
# (rank 0's, of the global batch), and the run's wall seconds. Needs the
# data sets (scripts/setup.sh; CIFAR-10 under $FASTADV_DATA or ./data) and
# Open MPI's mpirun.
set -eu
build=$1 reps=${2:-2}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mpi="mpirun -n 2 --bind-to core --oversubscribe"
[ "$(id -u)" -eq 0 ] && mpi="$mpi --allow-run-as-root"
resnet="--dataset=cifar10 --model=resnet18 --attack=fgsm --eps=8 --debug --epochs=1 --batch_size=128
  --eval_iter_freq=1000 --n_eval_every_k_iter=16 --attack_iters=1 --n_final_eval=16 --batch_size_eval=16"
cnn="--dataset=fmnist --model=cnn --n_filters_cnn=16 --attack=fgsm --eps=51 --grad_align_cos_lambda=1 --debug
  --epochs=10 --batch_size=128 --lr_schedule=constant --lr_max=0.001 --eval_iter_freq=1000 --n_eval_every_k_iter=16
  --attack_iters=1 --n_final_eval=16 --batch_size_eval=16"

# one LABEL COMMAND...: images/s of the training loop and wall seconds
one() {
  label=$1
  shift
  rm -rf "$tmp/out"
  start=$(date +%s.%N)
  "$@" --out_dir="$tmp/out" > "$tmp/log" 2>&1 || { cat "$tmp/log"; exit 1; }
  end=$(date +%s.%N)
  rate=$(tr '\r' '\n' < "$tmp/log" | sed -n 's/^train: .*(100.0%), \([0-9.]*\) images\/s.*/\1/p' | tail -1)
  printf "%-34s %8s images/s %8.1f s\n" "$label" "$rate" "$(echo "$end - $start" | bc)"
}

for r in $(seq 1 "$reps"); do
  for job in resnet cnn; do
    eval "flags=\$$job"
    one "$job: 1 process x 2 threads" env OMP_NUM_THREADS=2 "$build/fastadv" train $flags
    one "$job: 2 processes x 1 thread" $mpi -x OMP_NUM_THREADS=1 "$build/fastadv" train $flags
  done
done
