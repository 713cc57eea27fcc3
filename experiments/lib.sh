# Shared by the experiment scripts (sourced, not run): where the program, the
# runs and CIFAR-10 are, and how one training run is started or skipped.
#   FASTADV   the program (default build/fastadv)
#   RUNS      where run directories go (default runs/experiments; ignored by git)
#   NICE      the niceness of the training processes (default 19)
#   OMP_NUM_THREADS  threads per run, default 1: the runs of docs/EXPERIMENTS.md
#             used 1 (a shared, busy machine), and catastrophic overfitting is
#             chaotic: another thread count sums in another order and can
#             change a run's fate
# A run lives in its own directory $RUNS/<experiment>/<name>; it is finished
# when its log holds the final PGD-50-10 line, and is then skipped. An
# unfinished one (interrupted) is removed and started again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
FASTADV=${FASTADV:-build/fastadv}
RUNS=${RUNS:-runs/experiments}
NICE=${NICE:-19}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
[ -x "$FASTADV" ] || { echo "experiments: $FASTADV not found; build first (cmake --build build)" >&2; exit 1; }

# CIFAR-10 binary files: $FASTADV_DATA, else ../shared/data/cifar10/cifar-10-batches-bin beside the repository
cifar10_dir() {
  local d
  for d in "${FASTADV_DATA:-}" ../shared/data/cifar10/cifar-10-batches-bin; do
    [ -n "$d" ] && [ -f "$d/test_batch.bin" ] && { echo "$d"; return 0; }
  done
  echo "experiments: CIFAR-10 not found (set FASTADV_DATA to the cifar-10-batches-bin directory)" >&2
  return 1
}

run_finished() { grep -qs '\[final: last model\]' "$1"/logs/*.log; }

# fa_run DIR FLAGS...: one training run into DIR unless it has already finished
fa_run() {
  local dir=$1; shift
  if run_finished "$dir"; then echo "done already: $dir"; return 0; fi
  rm -rf "$dir"
  mkdir -p "$dir"
  echo "running: $dir"
  local start=$SECONDS
  nice -n "$NICE" "$FASTADV" train "$@" --out_dir="$dir" > "$dir/stdout.txt" 2>&1 ||
    { echo "experiments: run failed, see $dir/stdout.txt" >&2; return 1; }
  echo "  $((SECONDS - start)) s: $(grep -h '\[final: last model\]' "$dir"/logs/*.log | sed 's/^\[[^]]*\] //')"
}

# method_flags METHOD EPS LAMBDA K: the flags of one training method
#   fgsm (zero init), fgsm_rs (random init, Wong et al.), fgsm_ga (fgsm + GradAlign lambda),
#   pgd (K steps of 2.5 eps / K from a random start, Madry et al.)
method_flags() {
  case $1 in
    fgsm) echo "--attack=fgsm --attack_init=zero" ;;
    fgsm_rs) echo "--attack=fgsm --attack_init=random" ;;
    fgsm_ga) echo "--attack=fgsm --attack_init=zero --grad_align_cos_lambda=$3" ;;
    pgd) echo "--attack=pgd --attack_init=random --pgd_train_n_iters=$4 --pgd_alpha_train=$(awk -v e="$2" -v k="$4" 'BEGIN { print 2.5 * e / k }')" ;;
    *) echo "experiments: unknown method $1" >&2; return 1 ;;
  esac
}
