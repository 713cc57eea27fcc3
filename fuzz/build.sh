#!/bin/sh
# Builds every fuzz/fuzz_*.c into fuzz/out/ with libFuzzer, ASan and UBSan
# (clang and libclang-rt-14-dev: FASTADV_SETUP_EXTRA=1 scripts/setup.sh).
# A target names the sources and libraries it needs in a comment line:
#   fuzz-build: src/io/safetensors.c src/core/error.c -lcjson
# (shell patterns like src/data/*.c are expanded).
# Then run with a scratch corpus first (libFuzzer adds to the first directory), e.g.
#   mkdir -p fuzz/out/corpus/fuzz_svhn_mat && nice -n 19 fuzz/out/fuzz_svhn_mat -max_total_time=600 \
#     -max_len=16384 -malloc_limit_mb=64 -rss_limit_mb=1024 -timeout=120 fuzz/out/corpus/fuzz_svhn_mat fuzz/corpus/fuzz_svhn_mat
# (docs/RELIABILITY.md records each target's runs, flags and results).
set -eu
cd "$(dirname "$0")/.."
mkdir -p fuzz/out
for target in fuzz/fuzz_*.c; do
  name=$(basename "$target" .c)
  deps=$(sed -n 's|^.*fuzz-build: *||p' "$target" | head -n 1 | sed 's|\*/.*$||')
  echo "building fuzz/out/$name"
  # shellcheck disable=SC2086
  clang -std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -Isrc "$target" $deps -o "fuzz/out/$name"
done
