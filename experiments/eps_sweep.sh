#!/usr/bin/env bash
# Robustness against eps (the paper's Figures 1 and 8) for FGSM, FGSM-RS,
# FGSM + GradAlign and PGD-k training, each eps used for training and for the
# PGD-50-10 evaluation.  Usage: experiments/eps_sweep.sh fmnist|cifar10
#   fmnist:  cnn, 1 layer of 16 filters, Adam at a constant lr 1e-3, 2 epochs
#   cifar10: cnn, 1 layer of 4 filters, the paper's cnn schedule (Adam, cyclic lr up to 0.003), 10 epochs
# Environment: EPS, SEEDS, METHODS (lib.sh's method_flags), LAMBDA (GradAlign), K (PGD steps),
# EPOCHS, N_FINAL_EVAL, EVAL_ITER_FREQ (iterations between reports), AUTOATTACK (lib.sh),
# EXPERIMENT (the runs' directory under $RUNS, default <dataset>_eps).
source "$(dirname "$0")/lib.sh"
dataset=${1:-}
case $dataset in
  fmnist)
    EPS=${EPS:-51 26 13 38}  # the most telling first
    EPOCHS=${EPOCHS:-2}
    setup=(--dataset=fmnist --model=cnn --n_layers=1 --n_filters_cnn=16 --lr_schedule=constant --lr_max=0.001) ;;
  cifar10)
    EPS=${EPS:-16 8 4 12}  # the most telling first
    EPOCHS=${EPOCHS:-10}
    setup=(--dataset=cifar10 --data_dir="$(cifar10_dir)" --model=cnn --n_layers=1 --n_filters_cnn=4 --lr_max=0.003) ;;
  *) echo "usage: experiments/eps_sweep.sh fmnist|cifar10" >&2; exit 2 ;;
esac
SEEDS=${SEEDS-0 1 2}
METHODS=${METHODS:-fgsm fgsm_rs fgsm_ga pgd}
LAMBDA=${LAMBDA:-1.0}
K=${K:-2}
EXPERIMENT=${EXPERIMENT:-${dataset}_eps}
common=("${setup[@]}" --epochs="$EPOCHS" --eval_iter_freq="${EVAL_ITER_FREQ:-200}" --n_final_eval="${N_FINAL_EVAL:-500}")
for seed in $SEEDS; do
  for eps in $EPS; do
    for m in $METHODS; do
      fa_run "$RUNS/$EXPERIMENT/${m}_eps${eps}_seed$seed" "${common[@]}" --eps="$eps" \
        $(method_flags "$m" "$eps" "$LAMBDA" "$K") --seed="$seed"
    done
  done
done
