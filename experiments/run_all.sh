#!/usr/bin/env bash
# Every experiment of docs/EXPERIMENTS.md, most important first, then the
# figures. Resumable: finished runs are skipped, so run it again after an
# interruption. Runs go to $RUNS (default runs/experiments). Two of these
# can run at once on 2 cores (one thread each, the scripts' default), as
# long as they do not share runs: e.g. the CIFAR-10 sweep's seeds in one
# shell and the rest in another.
set -euo pipefail
here=$(dirname "$0")
SEEDS="0 1 2" GA_SEEDS=0 "$here/cifar10_cnn4.sh"  # the paper's cnn-4 command, 3 seeds, and the GradAlign twin of seed 0
SEEDS="0 1 2" "$here/eps_sweep.sh" fmnist       # Fashion-MNIST eps sweep
"$here/lemma2.sh"                               # Lemma 2 (seconds)
SEEDS="0 1 2" "$here/eps_sweep.sh" cifar10      # CIFAR-10 eps sweep (cnn-4, 10 epochs)
"$here/figures.sh"
"$here/fast_methods_all.sh"                     # the fast methods side by side (issue 16), PGD-10 last
"$here/method_times.sh" fmnist                  # their training time per epoch
"$here/method_times.sh" cifar10
"$here/fast_methods_results.sh"
