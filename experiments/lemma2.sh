#!/usr/bin/env bash
# Lemma 2: gradient alignment of the single-layer cnn at initialisation on
# CIFAR-10 (first 512 test images), eps 1..16/255, 1 to 64 filters, 5
# initialisations each, next to the lemma's lower bound (10^6 Monte Carlo
# draws). Seconds of work; writes $RUNS/lemma2/cifar10.tsv.
source "$(dirname "$0")/lib.sh"
mkdir -p "$RUNS/lemma2"
nice -n "$NICE" "$FASTADV" align_init --dataset=cifar10 --data_dir="$(cifar10_dir)" --eps_list=1,2,4,6,8,10,12,16 \
  --filters_list=1,4,16,64 --n_seeds=5 --n_examples=512 --n_mc=1000000 --out="$RUNS/lemma2/cifar10.tsv"
