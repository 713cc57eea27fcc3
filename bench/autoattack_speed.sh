#!/bin/sh
# The AutoAttack speed rows of docs/PERFORMANCE.md (issue 15): fastadv beside
# the official fra31/auto-attack, one seed per call of QUIET (a command that
# runs its arguments with the machine quiet: on the project's shared machine
# /work/wt/quiet.sh; default: run them as they are), each call's JSON in OUT.
#
#   bench/autoattack_speed.sh OUT DEMO_MODEL CIFAR_CNN16 RESNET18 RELABEL_DIR
#
#   DEMO_MODEL   the demo's FGSM + GradAlign cnn-16 (`make demo`), eps 51/255
#   CIFAR_CNN16  scripts/gen_torch_model.py OUT --arch=cnn --n_filters=16 --train=fgsm_rs --epochs=5
#   RESNET18     scripts/gen_torch_model.py OUT --arch=resnet18 --train=none --relabel=256 --relabel_dir=RELABEL_DIR
# and the PyTorch cnn-4 fixture, seeds 0, 1 and 2. OFFICIAL (default
# /tmp/auto-attack) holds the official `autoattack` package; TORCHATTACKS_PY
# (default /opt/torch-pypi/bin/python) the interpreter with torchattacks;
# CIFAR10 (default ../shared/data) the CIFAR-10 data. Prints the tables at the end.
set -eu
[ $# = 5 ] || { sed -n 2,15p "$0"; exit 2; }
out=$1 demo=$2 cif=$3 r18=$4 relabel=$5
cd "$(dirname "$0")/.."
mkdir -p "$out"
QUIET=${QUIET:-}
C="/usr/bin/python3 bench/compare_autoattack.py --official=${OFFICIAL:-/tmp/auto-attack} --python_torchattacks=${TORCHATTACKS_PY:-/opt/torch-pypi/bin/python}"
run() { name=$1; shift; uptime; $QUIET $C "$@" --json="$out/$name.json" > "$out/$name.out" || true; }
run demo --model_path="$demo" --eps=51 --n=1000 --seeds=0 --sides=official,fastadv
run fm4_s0 --n=1000 --seeds=0 --sides=official,fastadv,torchattacks
run fm4_s1 --n=1000 --seeds=1 --sides=official,fastadv
run fm4_s2 --n=1000 --seeds=2 --sides=official,fastadv
run cif --model_path="$cif" --n_filters=16 --dataset=cifar10 --data_dir="${CIFAR10:-../shared/data}" --n=1000 --seeds=0 \
  --sides=official,fastadv,torchattacks
FASTADV_CIFAR10_SUBSET=1 run r18 --model_path="$r18" --arch=resnet18 --dataset=cifar10 --data_dir="$relabel" --n=256 \
  --batch=256 --attacks=apgd-ce --seeds=0 --sides=official,fastadv
uptime
$C --from_json="$out/demo.json" --sides=official,fastadv
$C --from_json="$out/fm4_s0.json,$out/fm4_s1.json,$out/fm4_s2.json" --sides=official,fastadv,torchattacks
$C --from_json="$out/cif.json" --sides=official,fastadv,torchattacks
$C --from_json="$out/r18.json" --sides=official,fastadv
