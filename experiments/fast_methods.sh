#!/usr/bin/env bash
# The fast methods side by side (issue 16, docs/EXPERIMENTS.md "Fast methods"): FGSM,
# FGSM-RS, N-FGSM, FGSM + GradAlign, FGSM + ELLE-A and PGD-2 (PGD-10 with METHODS=pgd10)
# over eps and 3 seeds, in the eps sweep's setups (eps_sweep.sh), with PGD-50-10 and
# AutoAttack on the first 1,000 test images and reports every 100 iterations (the
# monitor's resolution). Runs go to $RUNS/<dataset>_fast. Resumable, and two copies may
# run at once (lib.sh's locks): e.g. `experiments/fast_methods.sh fmnist &` twice.
# Usage: experiments/fast_methods.sh fmnist|cifar10   (environment as eps_sweep.sh)
here=$(dirname "$0")
case ${1:-} in
  fmnist) export EPS=${EPS:-51 38 64 26} ;;   # the most telling first
  cifar10) export EPS=${EPS:-12 16 8 4} ;;
  *) echo "usage: experiments/fast_methods.sh fmnist|cifar10" >&2; exit 2 ;;
esac
export METHODS=${METHODS:-fgsm fgsm_rs nfgsm fgsm_ga elle_a pgd2}
export EXPERIMENT=${EXPERIMENT:-$1_fast} N_FINAL_EVAL=${N_FINAL_EVAL:-1000} EVAL_ITER_FREQ=${EVAL_ITER_FREQ:-100}
export AUTOATTACK=${AUTOATTACK:-1}
exec "$here/eps_sweep.sh" "$1"
