#!/usr/bin/python3
"""PyTorch float64 reference for the GradAlign-shaped check on PreAct ResNet-18.

Run with Debian's python3-torch:
    /usr/bin/python3 scripts/gen_gradalign_fixture.py tests/fixtures

The model is the full PreAct ResNet-18 of docs/METHOD.md section 2 (conv1, four
stages of two pre-activation blocks with strided 1x1 shortcuts of the raw
block input, 4x4 average pooling, linear), at a reduced width (8 planes in the
first stage instead of 64) so that the reference gradients fit in a small
committed file. Weights come from an integer hash of (parameter name, index),
which tests/test_gradalign.c reproduces exactly, so no weights are stored.
Batch of 4, training-mode batch norm throughout. It stores the inputs, the
per-parameter gradients of
    CE(model(x + delta))   and   reg = lam * (1 - mean cos(g1, g2)),
g1 = grad_x CE(model(x)), g2 = grad_x CE(model(x + eta)), both with
create_graph (double backpropagation), and the running statistics after the
three forward passes (order: g1, CE, g2).
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_py  # noqa: E402
from fastadv_models import PreActResNet18  # noqa: E402
from fixture_common import fill_hashed  # noqa: E402

torch.set_default_dtype(torch.float64)
WIDTH, BATCH, CLASSES, EPS, LAM = 8, 4, 10, 8 / 255, 0.2


def input_grad(model, x, y):
    d = torch.zeros_like(x, requires_grad=True)
    loss = F.cross_entropy(model(x + d), y)
    return torch.autograd.grad(loss, d, create_graph=True)[0]


def cos_per_example(a, b):
    a, b = a.flatten(1), b.flatten(1)
    return (a / a.norm(dim=1, keepdim=True) * (b / b.norm(dim=1, keepdim=True))).sum(1)


def main(out_dir):
    model = PreActResNet18(3, CLASSES, WIDTH).train()
    fill_hashed(model)
    params = dict(model.named_parameters())
    rng = np.random.default_rng(2020)
    f32 = lambda a: torch.tensor(a.astype(np.float32).astype(np.float64))  # noqa: E731
    x = f32(rng.uniform(0, 1, (BATCH, 3, 32, 32)))
    y = torch.tensor(rng.integers(0, CLASSES, BATCH), dtype=torch.int64)
    delta = f32(rng.uniform(-EPS, EPS, x.shape))
    eta = f32(rng.uniform(-EPS, EPS, x.shape))

    g1 = input_grad(model, x, y)
    loss_ce = F.cross_entropy(model(x + delta), y)
    g2 = input_grad(model, x + eta, y)
    cos = cos_per_example(g1, g2)
    reg = LAM * (1.0 - cos.mean())
    names = list(params)
    grads_ce = torch.autograd.grad(loss_ce, [params[n] for n in names], retain_graph=True)
    grads_reg = torch.autograd.grad(reg, [params[n] for n in names])

    out = {"x": x, "labels": y, "delta": delta, "eta": eta, "g1": g1.detach(), "g2": g2.detach(),
           "cos": cos.detach(), "loss_ce": loss_ce.detach().reshape(1), "reg": reg.detach().reshape(1)}
    for n, gc, gr in zip(names, grads_ce, grads_reg):
        out[f"grad_ce.{n}"] = gc.float()
        out[f"grad_reg.{n}"] = gr.float()
    for n, b in model.named_buffers():
        if "running" in n:
            out[f"buffer.{n}"] = b
    out = {k: v.detach().numpy() for k, v in out.items()}
    path = os.path.join(out_dir, "gradalign_resnet18.safetensors")
    safetensors_py.save(path, out, {"generator": "scripts/gen_gradalign_fixture.py", "width": str(WIDTH),
                                    "eps": repr(EPS), "lambda": repr(LAM)})
    print(f"wrote {path}: loss_ce {loss_ce.item():.6f} reg {reg.item():.6f} cos {cos.detach().numpy()}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures")
