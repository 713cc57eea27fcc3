#!/usr/bin/env bash
# Every run of docs/EXPERIMENTS.md "Fast methods", in the order they were run:
# Fashion-MNIST (all methods, eps and seeds), then CIFAR-10 seed 0, then seeds 1 and 2,
# then PGD-10 where time allows. Resumable (finished runs are skipped, an interrupted
# AutoAttack goes on), and two copies can run at once on 2 cores, sharing the work:
#   nohup experiments/fast_methods_all.sh > fast1.txt 2>&1 &
#   nohup experiments/fast_methods_all.sh > fast2.txt 2>&1 &
# Then experiments/fast_methods_results.sh builds the table and the figures.
set -euo pipefail
here=$(dirname "$0")
SEEDS="0 1 2" "$here/fast_methods.sh" fmnist
SEEDS=0 "$here/fast_methods.sh" cifar10
SEEDS="1 2" "$here/fast_methods.sh" cifar10
METHODS=pgd10 SEEDS="0 1 2" "$here/fast_methods.sh" fmnist
METHODS=pgd10 SEEDS="0 1 2" "$here/fast_methods.sh" cifar10
