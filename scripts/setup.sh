#!/usr/bin/env bash
# Installs the Debian packages fastadv needs to build, test and run its main job.
# Idempotent: packages already present are skipped by apt-get.
set -euo pipefail
packages=(
  build-essential cmake pkg-config
  libopenblas-openmp-dev                # GEMM (OpenMP-threaded build, same runtime as our loops)
  libdnnl-dev                           # oneDNN: convolution kernels
  libcjson-dev                          # JSON for safetensors headers
  zlib1g-dev                            # gzip IDX files, compressed SVHN MAT-files
  dataset-fashion-mnist                 # the embedded default data set
  gnuplot-nox                           # fastadv plot: PNG (cairo) and SVG figures, no X11 or Qt
  valgrind                              # the memcheck run of make test
  libopenmpi-dev openmpi-bin            # MPI: one run over many processes and machines (docs/SCALE.md)
)
if [ "${FASTADV_SETUP_EXTRA:-0}" = 1 ]; then
  # fixture generation and benchmarks against PyTorch, fuzzing
  packages+=(python3-torch python3-numpy clang libclang-rt-14-dev afl++)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
