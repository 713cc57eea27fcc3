#!/usr/bin/env bash
# The tables of experiments/half_prec.sh (docs/EXPERIMENTS.md "bfloat16 training over
# seeds"): for each precision, `fastadv plot --kind=eps` over its runs (clean and
# PGD-50-10 accuracy, mean ± std and each seed, and the seeds that collapsed, by
# docs/EXPERIMENTS.md's definition), on the demo's setup and on the paper's cnn-4
# command. The float32 cnn-4 runs are cifar10_cnn4.sh's: give their directories.
#   usage: experiments/half_prec_results.sh [FLOAT32_CNN4_RUN_DIR ...]
source "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# table TITLE RUN_DIR...: the plot's table of those runs (linked into one directory)
table() {
  local title=$1 d; shift
  d=$(mktemp -d "$tmp/table.XXXXXX")
  for r in "$@"; do [ -d "$r" ] && ln -s "$(cd "$r" && pwd)" "$d/$(basename "$(dirname "$r")")_$(basename "$r")"; done
  echo "### $title"
  "$FASTADV" plot --kind=eps --runs="$d" --out="$d/figure" 2>/dev/null | grep -v '^wrote ' | sed -n '/^| method | eps/,/^$/p'
}
for precision in f32 bf16; do
  table "demo's setup, $precision" "$RUNS"/half_prec_demo/*_"${precision}"_seed*
done
[ $# -gt 0 ] && table "paper's cnn-4 command, f32" "$@"
table "paper's cnn-4 command, bf16" "$RUNS"/half_prec_cnn4/fgsm_bf16_seed*
