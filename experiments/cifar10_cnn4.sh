#!/usr/bin/env bash
# The paper's single-layer CNN (4 filters) on CIFAR-10 with its command line:
# FGSM at eps 10/255, zero init, Adam, cyclic lr up to 0.003, 30 epochs,
# statistics every 50 iterations, PGD-50-10 on 1,000 test images at the end.
# FGSM for every seed in SEEDS, FGSM + GradAlign (lambda GA_LAMBDA) for the
# seeds in GA_SEEDS. About 7 min per FGSM run and 14 per GradAlign run on 2 free cores.
source "$(dirname "$0")/lib.sh"
SEEDS=${SEEDS-0 1 2}
GA_SEEDS=${GA_SEEDS-0}
GA_LAMBDA=${GA_LAMBDA:-1.0}
data=$(cifar10_dir)
read -r -a paper <<< "$(cnn4_command_flags "$data")"
for seed in $SEEDS; do
  fa_run "$RUNS/cifar10_cnn4/fgsm_seed$seed" "${paper[@]}" $(method_flags fgsm) --seed="$seed"
done
for seed in $GA_SEEDS; do
  fa_run "$RUNS/cifar10_cnn4/fgsm_ga_seed$seed" "${paper[@]}" $(method_flags fgsm_ga 10 "$GA_LAMBDA") --seed="$seed"
done
