#!/usr/bin/env bash
# The main job: the paper's effect on Fashion-MNIST (Debian's package, no download).
# FGSM training of the single-layer CNN (16 filters) at eps = 51/255 overfits
# catastrophically (FGSM accuracy climbs, PGD accuracy collapses to 0, the gradient
# alignment falls); the same training with GradAlign (lambda 1) does not, nor does
# N-FGSM (docs/LATER_METHODS.md: a larger noise, no projection), at FGSM's cost. The
# models are then evaluated with PGD-50-10 on 1,000 test images and compared side by side.
# Usage: scripts/demo.sh [output directory, default runs/demo]   (about 5 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/demo}
fastadv=build/fastadv
source scripts/demo_flags.sh
common=("${demo_setup[@]}" --seed=0)
fgsm=(--attack=fgsm --attack_init=zero)
rm -rf "$out/fgsm" "$out/fgsm_gradalign" "$out/nfgsm"
start=$(date +%s)
"$fastadv" train "${common[@]}" "${fgsm[@]}" --out_dir="$out/fgsm"
middle=$(date +%s)
"$fastadv" train "${common[@]}" "${fgsm[@]}" --grad_align_cos_lambda=1.0 --out_dir="$out/fgsm_gradalign"
end=$(date +%s)
"$fastadv" train "${common[@]}" --attack=nfgsm --out_dir="$out/nfgsm"  # k 2, alpha 1: its defaults
nfgsm_end=$(date +%s)

# one row per run: the final PGD-50-10 line of its log, the last periodic statistics of its metrics
row() {
  local dir=$1 label=$2 seconds=$3 log jsonl report clean pgd fgsm align
  log=$(ls "$dir"/logs/*.log)
  jsonl=$(ls "$dir"/logs/*.jsonl)
  clean=$(sed -n 's/.*\[final: last model\] clean acc \([0-9.]*\)%.*/\1/p' "$log")
  pgd=$(sed -n 's/.*\[final: last model\].*pgd-50-10 acc \([0-9.]*\)%.*/\1/p' "$log")
  report=$(grep '"test.acc_fgsm"' "$jsonl" | tail -n 1)  # the last report (the final record follows it)
  fgsm=$(echo "$report" | grep -o '"test.acc_fgsm": *[0-9.e-]*' | sed 's/.*: *//')
  align=$(echo "$report" | grep -o '"test.cos_x_eta": *[0-9.e-]*' | sed 's/.*: *//')
  awk -v l="$label" -v c="$clean" -v p="$pgd" -v f="$fgsm" -v a="$align" -v s="$seconds" \
    'BEGIN { printf "%-22s %9s%% %15s%% %18.1f%% %16.3f %8ss\n", l, c, p, 100 * f, a, s }'
}
echo
echo "Fashion-MNIST, cnn (1 layer, 16 filters), eps = 51/255, 5 epochs; PGD-50-10 on 1,000 test images"
printf "%-22s %10s %16s %18s %16s %9s\n" "training" "clean acc" "PGD-50-10 acc" "FGSM acc (256, end)" "grad alignment" "time"
row "$out/fgsm" "FGSM" $((middle - start))
row "$out/fgsm_gradalign" "FGSM + GradAlign (1.0)" $((end - middle))
row "$out/nfgsm" "N-FGSM (k 2, alpha 1)" $((nfgsm_end - end))
echo "(grad alignment: mean cos(grad at x, grad at x + eta) on 256 test images at the last report;"
echo " catastrophic overfitting shows as FGSM accuracy far above PGD accuracy and a low alignment)"
