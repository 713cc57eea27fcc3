#!/bin/sh
# The include rules of docs/ARCHITECTURE.md: every `#include "dir/..."` in
# src/<layer>/ names a layer that <layer> may include. The rules are read
# from the layer table of docs/ARCHITECTURE.md (its "## Layers" section: the
# first column names the layer, the last lists what it may include), so the
# document and this check cannot disagree. Every folder of src/ must have a
# row of the table. The private headers of the same section (rows
# | `dir/name.h` | `layer`, ... |) may be included only by the layers listed:
# core/tensor_internal.h, the tensor struct, by core and backend alone, so
# that no other layer can reach tensor memory.
#
#   tests/check_layers.sh REPO        checks REPO/src against REPO/docs/ARCHITECTURE.md
#   tests/check_layers.sh --self-test checks that a made-up upward include and
#                                     a private header included from above are caught
#
# Exit status 0 when every include is allowed, 1 with one line per violation.
set -eu

# The private headers: "dir/name.h: layer layer ..." lines.
private_rules() {
  awk '
    /^## / { in_layers = ($0 ~ /^## Layers/) }
    in_layers && /^\| `[a-z_]+\/[a-z_]+\.h` \|/ {
      n = split($0, cell, "|")
      header = cell[2]; gsub(/[` ]/, "", header)
      allowed = cell[n - 1]; gsub(/[`,]/, " ", allowed); gsub(/  +/, " ", allowed); gsub(/^ | $/, "", allowed)
      print header ": " allowed
    }' "$1"
}

# The rules: "layer: allowed allowed ..." lines from the table.
rules() {
  awk '
    /^## / { in_layers = ($0 ~ /^## Layers/) }
    in_layers && /^\| `[a-z_]+` \|/ {
      n = split($0, cell, "|")
      layer = cell[2]; gsub(/[` ]/, "", layer)
      allowed = cell[n - 1]; gsub(/`/, "", allowed); gsub(/,/, " ", allowed); gsub(/—/, "", allowed)
      print layer ": " layer " " allowed
    }' "$1"
}

check() {
  repo=$1
  table=$(rules "$repo/docs/ARCHITECTURE.md")
  private=$(private_rules "$repo/docs/ARCHITECTURE.md")
  if [ -z "$table" ]; then
    echo "no layer table in $repo/docs/ARCHITECTURE.md (a \"## Layers\" section with rows | \`layer\` | ... |)"
    return 1
  fi
  status=0
  for dir in "$repo"/src/*/; do
    layer=$(basename "$dir")
    if ! printf '%s\n' "$table" | grep -q "^$layer: "; then
      echo "src/$layer/ has no row in the layer table of docs/ARCHITECTURE.md: place it there"
      status=1
    fi
  done
  # every quoted include with a directory: file, line, the layer it reaches
  for file in $(find "$repo/src" -name '*.[ch]' | sort); do
    rel=${file#"$repo"/}
    layer=$(printf '%s\n' "$rel" | cut -d/ -f2)
    allowed=$(printf '%s\n' "$table" | sed -n "s/^$layer: //p")
    grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]*/' "$file" | while IFS= read -r hit; do
      line=${hit%%:*}
      target=$(printf '%s\n' "$hit" | sed 's/^[^"]*"\([^/"]*\)\/.*/\1/')
      case " $allowed " in
        *" $target "*) ;;
        *) echo "$rel:$line: includes \"$target/...\": src/$layer/ may include only: $allowed (docs/ARCHITECTURE.md)" ;;
      esac
    done
  done > "${TMPDIR:-/tmp}/check_layers.$$"
  # every include of a private header: from a layer that may include it
  printf '%s\n' "$private" | while IFS= read -r rule; do
    [ -n "$rule" ] || continue
    header=${rule%%:*} who=${rule#*: }
    pattern="^[[:space:]]*#[[:space:]]*include[[:space:]]*\"$header\""
    grep -rn --include='*.[ch]' "$pattern" "$repo/src" | while IFS= read -r hit; do
      rel=${hit#"$repo"/}
      layer=$(printf '%s\n' "$rel" | cut -d/ -f2)
      line=$(printf '%s\n' "$rel" | cut -d: -f2)
      case " $who " in
        *" $layer "*) ;;
        *) echo "${rel%%:*}:$line: includes \"$header\", which only src/{$(echo $who | tr ' ' ,)} may include:" \
                "above them no code touches what it defines (docs/ARCHITECTURE.md)" ;;
      esac
    done
  done >> "${TMPDIR:-/tmp}/check_layers.$$"
  if [ -s "${TMPDIR:-/tmp}/check_layers.$$" ]; then
    cat "${TMPDIR:-/tmp}/check_layers.$$"
    status=1
  fi
  rm -f "${TMPDIR:-/tmp}/check_layers.$$"
  return $status
}

if [ "${1:-}" = "--self-test" ]; then
  # a two-layer tree: nn may include core; an nn file that includes train/ must be caught
  here=$(cd "$(dirname "$0")/.." && pwd)
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$tmp/docs" "$tmp/src/core" "$tmp/src/nn"
  {
    printf '## Layers\n\n| layer | holds | may include |\n|---|---|---|\n| `core` | x | — |\n| `nn` | y | `core` |\n\n'
    printf '| private header | may be included by |\n|---|---|\n| `core/tensor_internal.h` | `core` |\n'
  } > "$tmp/docs/ARCHITECTURE.md"
  printf '#include "core/tensor_internal.h"\n' > "$tmp/src/core/t.c"
  printf '#include "core/a.h"\n' > "$tmp/src/core/a.c"
  printf '#include <stdio.h>\n#include "core/a.h"\n#include "nn/b.h"\n' > "$tmp/src/nn/b.c"
  check "$tmp" > "$tmp/out" || { echo "self-test: a clean tree was refused:"; cat "$tmp/out"; exit 1; }
  printf '  #include "train/config.h"\n' >> "$tmp/src/nn/b.c"
  if check "$tmp" > "$tmp/out"; then echo "self-test: the upward include nn -> train was not caught"; exit 1; fi
  grep -q 'src/nn/b.c:4: includes "train/..."' "$tmp/out" || { echo "self-test: wrong message:"; cat "$tmp/out"; exit 1; }
  # the tensor struct included above core: the file and line named
  printf '#include "core/a.h"\n' > "$tmp/src/nn/b.c"
  check "$tmp" > "$tmp/out" || { echo "self-test: a clean tree was refused:"; cat "$tmp/out"; exit 1; }
  printf '#include "core/tensor_internal.h"\n' >> "$tmp/src/nn/b.c"
  if check "$tmp" > "$tmp/out"; then echo "self-test: core/tensor_internal.h included from nn was not caught"; exit 1; fi
  grep -q 'src/nn/b.c:2: includes "core/tensor_internal.h", which only src/{core} may include' "$tmp/out" ||
    { echo "self-test: wrong message for the private header:"; cat "$tmp/out"; exit 1; }
  printf '#include "core/a.h"\n' > "$tmp/src/nn/b.c"
  mkdir "$tmp/src/extra"
  if check "$tmp" > "$tmp/out" || ! grep -q 'src/extra/ has no row' "$tmp/out"; then
    echo "self-test: a folder without a row was not caught"; cat "$tmp/out"; exit 1
  fi
  # and the real repository's table is read: it has a row for core
  rules "$here/docs/ARCHITECTURE.md" | grep -q '^core: ' || { echo "self-test: no core row in $here/docs/ARCHITECTURE.md"; exit 1; }
  private_rules "$here/docs/ARCHITECTURE.md" | grep -q '^core/tensor_internal.h: core' ||
    { echo "self-test: no row for core/tensor_internal.h among the private headers of $here/docs/ARCHITECTURE.md"; exit 1; }
  echo "self-test: upward includes, private headers included from above and unplaced folders are caught"
  exit 0
fi

check "${1:?usage: check_layers.sh REPO | --self-test}"
echo "every include of src/ follows the layer table of docs/ARCHITECTURE.md"
