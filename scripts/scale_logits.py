#!/usr/bin/python3
"""A model whose logits are a trained model's times a factor: the same predictions, masked gradients.

    /usr/bin/python3 scripts/scale_logits.py IN.safetensors OUT.safetensors FACTOR

Multiplies the weight and bias of the model's last linear layer (the last 2-D weight of the
file) by FACTOR and writes the tensors as a plain safetensors file, without metadata (evaluate it
with `fastadv eval --model=... --n_filters_cnn=... --dataset=...`, as any PyTorch file). Every
prediction and every margin's sign stay the same, but with a large factor (1e4) the softmax of a
correctly classified example is exactly one-hot in float32, so the cross-entropy's gradient is
exactly 0 there: the gradient masking that PGD and APGD-CE fall for and that the scale-free
attacks of AutoAttack (APGD-T's DLR loss, FAB-T, Square's margin) do not
(docs/AUTOATTACK.md, "Which stage finds what"). Needs numpy only.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_py  # noqa: E402


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__.split("\n\n")[1])
    src, dst, factor = sys.argv[1], sys.argv[2], float(sys.argv[3])
    tensors, meta = safetensors_py.load(src)
    prefixes = [p for p in meta.get("extra_prefixes", "").split(",") if p]
    tensors = {k: np.array(v) for k, v in tensors.items() if not any(k.startswith(p) for p in prefixes)}
    last = [k for k, v in tensors.items() if k.endswith(".weight") and v.ndim == 2][-1]
    layer = last[:-len(".weight")]
    for k in (layer + ".weight", layer + ".bias"):
        tensors[k] = (tensors[k] * factor).astype(np.float32)
    safetensors_py.save(dst, tensors)
    print(f"{dst}: {layer}.weight and .bias of {src} times {factor:g}")


if __name__ == "__main__":
    main()
