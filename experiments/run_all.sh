#!/usr/bin/env bash
# Every experiment of docs/EXPERIMENTS.md, most important first, then the
# figures. Resumable: finished runs are skipped, so run it again after an
# interruption. Runs go to $RUNS (default runs/experiments).
set -euo pipefail
here=$(dirname "$0")
SEEDS=0 GA_SEEDS= "$here/cifar10_cnn4.sh"     # the paper's cnn-4 run, seed 0 (Figures 5, 6, 7, 11)
SEEDS=0 "$here/eps_sweep.sh" fmnist          # Fashion-MNIST eps sweep, seed 0
"$here/lemma2.sh"                            # Lemma 2 (seconds)
SEEDS= GA_SEEDS=0 "$here/cifar10_cnn4.sh"     # the GradAlign twin of seed 0
# not run for docs/EXPERIMENTS.md for lack of time (see there):
SEEDS="1 2" GA_SEEDS= "$here/cifar10_cnn4.sh" # the other seeds
SEEDS="1 2" "$here/eps_sweep.sh" fmnist
"$here/eps_sweep.sh" cifar10
"$here/figures.sh"
