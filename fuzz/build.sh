#!/usr/bin/env bash
# Builds the libFuzzer targets of the data readers into fuzz/out/ with clang
# (Debian: clang, libclang-rt-14-dev; FASTADV_SETUP_EXTRA=1 scripts/setup.sh).
#   fuzz/build.sh
#   nice -n 19 fuzz/out/fuzz_svhn_mat -max_total_time=600 -max_len=16384 -malloc_limit_mb=64 \
#     -rss_limit_mb=1024 -timeout=120 fuzz/out/corpus/fuzz_svhn_mat fuzz/corpus/fuzz_svhn_mat
# (docs/RELIABILITY.md records the runs and why these limits).
# The run's corpus grows in fuzz/out/corpus/<target> (ignored); the seeds in
# fuzz/corpus/<target> are committed (made by fuzz/make_corpus.py).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p fuzz/out
sources=(src/data/*.c src/core/error.c src/core/rng.c)
for target in fuzz_idx fuzz_cifar10 fuzz_svhn_mat; do
  clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -Isrc "${sources[@]}" "fuzz/$target.c" -lz -lm -lpthread -o "fuzz/out/$target"
  mkdir -p "fuzz/out/corpus/$target"
done
echo "built: fuzz/out/fuzz_idx fuzz/out/fuzz_cifar10 fuzz/out/fuzz_svhn_mat"
