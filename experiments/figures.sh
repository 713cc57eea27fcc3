#!/usr/bin/env bash
# Every figure of docs/EXPERIMENTS.md from the runs of the experiment scripts
# (skipping those whose runs are missing), into docs/figures/ (PNG + SVG).
#   CO_SEED   the CIFAR-10 cnn-4 seed whose run is shown with its GradAlign twin (default 0)
#   CO_EPOCH  where that run overfits catastrophically, read off its metrics: a dashed line
#             in its figures (default 21, seed 0 of docs/EXPERIMENTS.md; -1 for none)
source "$(dirname "$0")/lib.sh"
out=docs/figures
mkdir -p "$out"
CO_SEED=${CO_SEED:-0}
CO_EPOCH=${CO_EPOCH:-21}
cnn4=$RUNS/cifar10_cnn4
have() { run_finished "$1" 2>/dev/null; }
plot() { "$FASTADV" plot "$@" | grep -v '^|' || true; }

# Figure 11 (and 4): the training curves, FGSM seeds overlaid, then FGSM against FGSM + GradAlign
seeds=$(ls -d "$cnn4"/fgsm_seed* 2>/dev/null | while read -r d; do have "$d" && echo "$d"; done | paste -sd, -)
[ -n "$seeds" ] && plot --kind=curves --runs="$seeds" --out="$out/cifar10_cnn4_fgsm_seeds" \
  --title="CIFAR-10, single-layer CNN with 4 filters, FGSM AT at eps = 10/255"
if have "$cnn4/fgsm_seed$CO_SEED" && have "$cnn4/fgsm_ga_seed$CO_SEED"; then
  plot --kind=curves --runs="$cnn4/fgsm_seed$CO_SEED,$cnn4/fgsm_ga_seed$CO_SEED" \
    --out="$out/cifar10_cnn4_fgsm_vs_gradalign" --mark_epoch="$CO_EPOCH" --title="CIFAR-10, CNN with 4 filters, eps = 10/255, seed $CO_SEED"
fi
# Figure 6 and 5, and the feature maps (Figure 7), for the CO_SEED FGSM run: best (early-stopped) and last model
if have "$cnn4/fgsm_seed$CO_SEED"; then
  plot --kind=filters --runs="$cnn4/fgsm_seed$CO_SEED" --out="$out/cifar10_cnn4_filter_norms_seed$CO_SEED" \
    --mark_epoch="$CO_EPOCH" \
    --title="CIFAR-10, CNN with 4 filters, FGSM AT at eps = 10/255, seed $CO_SEED"
  models=$cnn4/fgsm_seed$CO_SEED/models
  for which in best last; do
    if [ $which = best ]; then model=$(ls "$models"/*_best.safetensors); else model=$(ls "$models"/*.safetensors | grep -v _best); fi
    "$FASTADV" inspect --model_path="$model" --out="$out/cifar10_cnn4_filters_seed${CO_SEED}_$which.png" \
      --data_dir="$(cifar10_dir)"
    "$FASTADV" inspect --what=feature_maps --index=0 --model_path="$model" --data_dir="$(cifar10_dir)" \
      --out="$out/cifar10_cnn4_feature_maps_seed${CO_SEED}_$which.png"
  done
fi
# the same on Fashion-MNIST: the eps-sweep runs of the four methods at 51/255, seed 0, 2 epochs
runs=$(for m in fgsm fgsm_ga fgsm_rs pgd; do have "$RUNS/fmnist_eps/${m}_eps51_seed0" && echo "$RUNS/fmnist_eps/${m}_eps51_seed0"; done | paste -sd, -)
[ -n "$runs" ] && plot --kind=curves --runs="$runs" --out="$out/fmnist_cnn16_eps51_curves" \
  --title="Fashion-MNIST, CNN with 16 filters, eps = 51/255, seed 0"
# Figures 1 and 8: robustness and accuracy against eps
for ds in fmnist cifar10; do
  [ -d "$RUNS/${ds}_eps" ] || continue
  "$FASTADV" plot --kind=eps --runs="$RUNS/${ds}_eps" --out="$out/${ds}_eps_sweep" \
    --title="$([ $ds = fmnist ] && echo Fashion-MNIST, CNN with 16 filters || echo CIFAR-10, CNN with 4 filters)" \
    > "$RUNS/${ds}_eps_table.md" || continue
  cat "$RUNS/${ds}_eps_table.md"
done
# Lemma 2
[ -f "$RUNS/lemma2/cifar10.tsv" ] && plot --kind=lemma2 --runs="$RUNS/lemma2/cifar10.tsv" --out="$out/lemma2_cifar10" \
  --title="CIFAR-10, single-layer CNN at initialisation (5 seeds)"
echo "figures in $out"
