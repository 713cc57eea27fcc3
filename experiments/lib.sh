# Shared by the experiment scripts (sourced, not run): where the program, the
# runs and CIFAR-10 are, and how one training run is started or skipped.
#   FASTADV   the program (default build/fastadv)
#   RUNS      where run directories go (default runs/experiments; ignored by git)
#   NICE      the niceness of the training processes (default 19)
#   OMP_NUM_THREADS  threads per run, default 1: the runs of docs/EXPERIMENTS.md
#             used 1 (a shared, busy machine), and catastrophic overfitting is
#             chaotic: another thread count sums in another order and can
#             change a run's fate
#   AUTOATTACK  1: after training, AutoAttack (standard) on the saved last model, on
#             as many test images as the final PGD-50-10 (--n_final_eval), into
#             <run>/autoattack.json (default 0: none)
# A run lives in its own directory $RUNS/<experiment>/<name>; it is finished
# when its log holds the final PGD-50-10 line (and, with AUTOATTACK=1, when
# <run>/autoattack.json exists), or when it stopped on a NaN (<run>/diverged.txt),
# and is then skipped. An unfinished training
# (interrupted) is removed and started again; an interrupted AutoAttack goes
# on where it stopped (--resume_eval). A run is locked (flock on
# <run>.lock) while a script works on it: several copies of one script can
# run side by side, each skipping the runs another holds.
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
run_diverged() { [ -f "$1/diverged.txt" ]; }

# flag_value NAME ARGS...: the value of --NAME=VALUE among ARGS (empty if absent)
flag_value() {
  local name=$1 a v=""; shift
  for a in "$@"; do case $a in --"$name"=*) v=${a#*=} ;; esac; done
  echo "$v"
}

# train_run DIR FLAGS...: one training run into DIR unless it has already finished. A run that
# stops on a NaN (exit 4) is an outcome, not a failure of the script: its message goes to
# DIR/diverged.txt, and it counts as done.
train_run() {
  local dir=$1 rc=0; shift
  if run_finished "$dir" || run_diverged "$dir"; then echo "done already: $dir"; return 0; fi
  rm -rf "$dir"
  mkdir -p "$dir"
  echo "running: $dir"
  local start=$SECONDS
  nice -n "$NICE" "$FASTADV" train "$@" --out_dir="$dir" > "$dir/stdout.txt" 2>&1 || rc=$?
  if [ $rc = 4 ]; then
    grep -h 'the run stopped' "$dir/stdout.txt" | tail -n 1 > "$dir/diverged.txt"
    echo "  diverged: $(cat "$dir/diverged.txt")"
    return 0
  fi
  [ $rc = 0 ] || { echo "experiments: run failed, see $dir/stdout.txt" >&2; return 1; }
  echo "  $((SECONDS - start)) s: $(grep -h '\[final: last model\]' "$dir"/logs/*.log | sed 's/^\[[^]]*\] //')"
}

# autoattack_run DIR FLAGS...: AutoAttack on the last model of the finished run in DIR, with the
# training's --eps, --n_final_eval and --data_dir, unless DIR/autoattack.json exists
autoattack_run() {
  local dir=$1 json=$1/autoattack.json; shift
  if [ -f "$json" ] || run_diverged "$dir"; then echo "  autoattack done already (or no model)"; return 0; fi
  local model data resume=()
  model=$(ls "$dir"/models/*.safetensors | grep -v '_best\.safetensors$')
  data=$(flag_value data_dir "$@")
  [ -f "$json.examples.jsonl" ] && resume=(--resume_eval)
  local start=$SECONDS
  nice -n "$NICE" "$FASTADV" eval --attack=autoattack --model_path="$model" --eps="$(flag_value eps "$@")" \
    --n_eval="$(flag_value n_final_eval "$@")" --batch_size_eval=100 ${data:+--data_dir="$data"} \
    --results_json="$json" "${resume[@]}" >> "$dir/autoattack.txt" 2>&1 ||
    { echo "experiments: AutoAttack failed, see $dir/autoattack.txt" >&2; return 1; }
  echo "  autoattack $((SECONDS - start)) s: $(grep -o '"autoattack_acc": *[0-9.e-]*' "$json")"
}

# fa_run DIR FLAGS...: train into DIR (and, with AUTOATTACK=1, attack its model) unless done,
# holding DIR.lock; a run another process holds is skipped
fa_run() {
  local dir=$1 fd rc=0
  mkdir -p "$(dirname "$dir")"
  exec {fd}>"$dir.lock"
  if ! flock -n "$fd"; then echo "running elsewhere: $dir"; exec {fd}>&-; return 0; fi
  train_run "$@" && { [ "${AUTOATTACK:-0}" = 0 ] || autoattack_run "$@"; } || rc=$?
  exec {fd}>&-
  return $rc
}

# cnn4_command_flags DATA_DIR: the paper's CIFAR-10 command for the cnn with 4 filters, without
# its method (FGSM at eps 10/255, Adam, cyclic lr up to 0.003, 30 epochs, statistics every
# 50 iterations, PGD-50-10 on 1,000 test images); DATA_DIR holds no spaces
cnn4_command_flags() {
  echo "--dataset=cifar10 --data_dir=$1 --model=cnn --eps=10 --n_layers=1 --n_filters_cnn=4 --epochs=30" \
       "--eval_iter_freq=50 --lr_max=0.003 --n_final_eval=1000"
}

# method_flags METHOD EPS LAMBDA K: the flags of one training method
#   fgsm (zero init), fgsm_rs (random init, Wong et al.), fgsm_ga (fgsm + GradAlign lambda),
#   pgd (K steps of 2.5 eps / K from a random start, Madry et al.), nfgsm (N-FGSM: noise in
#   [-2 eps, 2 eps], a step of eps, no projection: de Jorge et al.'s setting), elle_a (FGSM from 0
#   with a step of eps + ELLE-A, lambda_max 4000: the ELLE code's scripts), pgd2 and pgd10 (the
#   paper's scripts sh/exps_diff_eps_*.sh: from 0, steps eps/2 and eps/5)
scaled() { awk -v e="$1" -v n="$2" -v d="$3" 'BEGIN { print e * n / d }'; }  # scaled X N D: X * N / D
method_flags() {
  case $1 in
    fgsm) echo "--attack=fgsm --attack_init=zero" ;;
    fgsm_rs) echo "--attack=fgsm --attack_init=random" ;;
    fgsm_ga) echo "--attack=fgsm --attack_init=zero --grad_align_cos_lambda=$3" ;;
    pgd) echo "--attack=pgd --attack_init=random --pgd_train_n_iters=$4 --pgd_alpha_train=$(scaled "$2" 2.5 "$4")" ;;
    nfgsm) echo "--attack=nfgsm --nfgsm_k=2 --fgsm_alpha=1" ;;
    elle_a) echo "--attack=fgsm --attack_init=zero --fgsm_alpha=1 --elle_adaptive --elle_lambda_max=4000" ;;
    pgd2) echo "--attack=pgd --attack_init=zero --pgd_train_n_iters=2 --pgd_alpha_train=$(scaled "$2" 1 2)" ;;
    pgd10) echo "--attack=pgd --attack_init=zero --pgd_train_n_iters=10 --pgd_alpha_train=$(scaled "$2" 1 5)" ;;
    *) echo "experiments: unknown method $1" >&2; return 1 ;;
  esac
}
