#!/usr/bin/env bash
# The fast methods' table and figures (docs/EXPERIMENTS.md, "Fast methods") from whatever
# runs of fast_methods.sh have finished (the others are skipped, with a note on stderr):
# per data set, `fastadv plot --kind=eps` draws docs/figures/<dataset>_fast_methods.png
# (PGD-50-10, AutoAttack and clean accuracy against eps) and prints the accuracies, the
# seeds that collapsed and the monitor's record; method_times.sh's table follows when it
# has been measured. The tables also go to $RUNS/<dataset>_fast_tables.md.
source "$(dirname "$0")/lib.sh"
out=docs/figures
mkdir -p "$out"
for ds in fmnist cifar10; do
  [ -d "$RUNS/${ds}_fast" ] || continue
  tables=$RUNS/${ds}_fast_tables.md
  title=$([ $ds = fmnist ] && echo "Fashion-MNIST, CNN with 16 filters, 2 epochs" ||
          echo "CIFAR-10, CNN with 4 filters, 10 epochs")
  echo "## $title"
  "$FASTADV" plot --kind=eps --runs="$RUNS/${ds}_fast" --out="$out/${ds}_fast_methods" --title="$title" \
    > "$tables.tmp" 2> >(grep -v -e '^Warning: empty x range' -e 'Skipping data file with no valid points' >&2) ||
    continue
  grep -v '^wrote ' "$tables.tmp" > "$tables" && rm "$tables.tmp"
  diverged=$(ls "$RUNS/${ds}_fast"/*/diverged.txt 2>/dev/null || true)
  if [ -n "$diverged" ]; then
    { echo; echo "Runs stopped by a NaN (not in the tables):"; echo
      for f in $diverged; do echo "- $(basename "$(dirname "$f")"): $(sed 's/^\[[^]]*\] //' "$f")"; done; } >> "$tables"
  fi
  if [ -f "$RUNS/times/$ds.md" ]; then
    { echo; echo "Training time per epoch (experiments/method_times.sh $ds):"; echo; cat "$RUNS/times/$ds.md"; } >> "$tables"
  fi
  cat "$tables"
  echo
done
