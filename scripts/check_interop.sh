#!/usr/bin/env bash
# Checkpoints move between fastadv and PyTorch by name, both ways, on real data
# (Fashion-MNIST from Debian, first 1,000 test images; needs python3-torch):
#  1. a model trained by fastadv, loaded in PyTorch with strict=True (scripts/load_in_pytorch.py):
#     PyTorch's clean accuracy equals fastadv eval's;
#  2. a model trained in PyTorch, its state_dict converted by scripts/torch_to_safetensors.py:
#     fastadv eval's clean accuracy equals PyTorch's.
# Usage: scripts/check_interop.sh [work directory, default runs/interop]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-runs/interop}
rm -rf "$dir" && mkdir -p "$dir"
test_images=/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
clean_acc() { sed -n 's/.*clean acc\(uracy:\)\{0,1\} \([0-9.]*\)%.*/\2/p' | head -n 1; }

build/fastadv train --dataset=fmnist --model=cnn --n_filters_cnn=8 --epochs=1 --attack=none \
  --lr_schedule=constant --lr_max=0.001 --n_final_eval=1000 --out_dir="$dir/fastadv" >/dev/null 2>&1
ckpt=$(ls "$dir"/fastadv/models/*8.safetensors)
a=$(build/fastadv eval --model_path="$ckpt" --eps=0 --n_eval=1000 --attack_iters=1 --n_restarts=1 2>/dev/null | clean_acc)
b=$(/usr/bin/python3 scripts/load_in_pytorch.py "$ckpt" --data "$test_images" --n 1000 | clean_acc)
echo "fastadv -> PyTorch: fastadv eval ${a}%, PyTorch ${b}% (1000 test images)"

/usr/bin/python3 - "$dir" "$test_images" <<'PY'
import os, sys
import numpy as np, torch, torch.nn.functional as F
sys.path.insert(0, "scripts")
from fastadv_models import CNN
from load_in_pytorch import read_data
out, test = sys.argv[1], sys.argv[2]
torch.manual_seed(0)
x, y, _ = read_data(test.replace("t10k", "train"), 6400)
model = CNN(1, 28, 28, 10, 1, 8)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for i in range(0, 6400, 64):
    loss = F.cross_entropy(model(torch.tensor(x[i:i + 64])), torch.tensor(y[i:i + 64]))
    opt.zero_grad(); loss.backward(); opt.step()
xt, yt, _ = read_data(test, 1000)
with torch.no_grad():
    acc = (model(torch.tensor(xt)).argmax(1).numpy() == yt).mean()
torch.save(model.state_dict(), os.path.join(out, "pytorch_cnn8.pt"))
print(f"PyTorch-trained cnn: clean accuracy: {100 * acc:.2f}%")
PY
/usr/bin/python3 scripts/torch_to_safetensors.py "$dir/pytorch_cnn8.pt" "$dir/pytorch_cnn8.safetensors" \
  --arch cnn --dataset fmnist --n_layers 1 --n_filters 8 >/dev/null
c=$(build/fastadv eval --model_path="$dir/pytorch_cnn8.safetensors" --eps=0 --n_eval=1000 --attack_iters=1 \
  --n_restarts=1 2>/dev/null | clean_acc)
echo "PyTorch -> fastadv: fastadv eval ${c}% (PyTorch's above)"
