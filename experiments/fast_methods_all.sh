#!/usr/bin/env bash
# Every run of docs/EXPERIMENTS.md "Fast methods", in the order they were run:
# first training and the final PGD-50-10 of every run (Fashion-MNIST: all methods, eps and
# seeds; then CIFAR-10 seed 0, then seeds 1 and 2), then AutoAttack on the saved models
# (it takes most of the time: up to 15 minutes a robust Fashion-MNIST model on a busy
# machine), then PGD-10 where time allows. Resumable (finished runs are skipped, an
# interrupted AutoAttack goes on where it stopped), and two copies can run at once on
# 2 cores, sharing the work:
#   nohup experiments/fast_methods_all.sh > fast1.txt 2>&1 &
#   nohup experiments/fast_methods_all.sh > fast2.txt 2>&1 &
# Then experiments/fast_methods_results.sh builds the tables and the figures.
set -euo pipefail
here=$(dirname "$0")
for aa in 0 1; do
  AUTOATTACK=$aa SEEDS="0 1 2" "$here/fast_methods.sh" fmnist
  AUTOATTACK=$aa SEEDS=0 "$here/fast_methods.sh" cifar10
  AUTOATTACK=$aa SEEDS="1 2" "$here/fast_methods.sh" cifar10
done
METHODS=pgd10 SEEDS="0 1 2" "$here/fast_methods.sh" fmnist
METHODS=pgd10 SEEDS="0 1 2" "$here/fast_methods.sh" cifar10
