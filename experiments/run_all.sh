#!/usr/bin/env bash
# Every experiment of docs/EXPERIMENTS.md, most important first, then the
# figures. Resumable: finished runs are skipped, so run it again after an
# interruption. Runs go to $RUNS (default runs/experiments).
set -euo pipefail
here=$(dirname "$0")
SEEDS=0 GA_SEEDS= "$here/cifar10_cnn4.sh"           # the paper's cnn-4 run, seed 0 (Figures 5, 6, 11)
SEEDS=0 "$here/eps_sweep.sh" fmnist                # Fashion-MNIST eps sweep, first seed
"$here/cifar10_cnn4.sh"                            # seeds 1, 2 and FGSM + GradAlign
"$here/eps_sweep.sh" fmnist                        # second seed
SEEDS=0 "$here/eps_sweep.sh" cifar10               # CIFAR-10 eps sweep, one seed
"$here/figures.sh"
