#!/usr/bin/env bash
# The pointwise worst case of two evaluations of one model on the same
# examples (docs/AUTOATTACK.md "Sanity on real models"): each is the
# per-example log `fastadv eval --results_json=F` writes beside F
# (F.examples.jsonl); an example counts as robust to an evaluation when the
# last entry of its "robust" list is 1.
#   usage: scripts/worst_case.sh A.examples.jsonl B.examples.jsonl
# Prints the examples, the robust accuracy under A, under B and under both
# (the worst case), and how many examples only one of them left robust.
# Exit 1 when the logs are not of the same examples (their headers name
# another subset or data set, or their indices differ).
set -euo pipefail
if [ $# -ne 2 ] || [ ! -r "$1" ] || [ ! -r "$2" ]; then
  echo "usage: scripts/worst_case.sh A.examples.jsonl B.examples.jsonl (two readable per-example logs)" >&2
  exit 2
fi
awk -v a_name="$1" -v b_name="$2" '
  # the example index and whether it is still robust after the last stage
  function parse(line, out,   i, r) {
    if (line !~ /^\{"index": /) return 0
    i = line; sub(/^\{"index": /, "", i); sub(/,.*/, "", i)
    r = line; sub(/\]\}$/, "", r); sub(/.*[ \[]/, "", r)
    out["i"] = i + 0; out["r"] = r + 0
    return 1
  }
  # the examples a log covers, from its header: "..., first N of test DATASET"
  function examples_of(line) { return match(line, /first [0-9]+ of [a-z]+ [A-Za-z0-9_]+"\}$/) ? substr(line, RSTART) : "?" }
  FNR == 1 { file++; set[file] = examples_of($0); if (file == 2 && set[1] != set[2]) { bad = 1; exit } }
  { if (!parse($0, e)) next
    if (file == 1) { a[e["i"]] = e["r"]; na++ }
    else { if (!(e["i"] in a)) { bad = 1; exit } b[e["i"]] = e["r"]; nb++ } }
  END {
    if (bad || na != nb || na == 0) {
      printf "worst_case: %s and %s are not logs of the same examples (%d and %d examples)\n", a_name, b_name, na, nb > "/dev/stderr"
      exit 1
    }
    for (i in a) { ra += a[i]; rb += b[i]; both += a[i] && b[i]; only_a += a[i] && !b[i]; only_b += b[i] && !a[i] }
    printf "examples %d, robust: A %.2f%%, B %.2f%%, both (worst case) %.2f%%; robust to A only %d, to B only %d\n",
      na, 100 * ra / na, 100 * rb / na, 100 * both / na, only_a, only_b
  }' "$1" "$2"
