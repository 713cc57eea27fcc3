#!/usr/bin/python3
"""PyTorch float64 reference fixtures for the optimiser and schedule tests.

Run with Debian's python3-torch:  /usr/bin/python3 scripts/gen_optim_fixtures.py tests/fixtures

Writes tests/fixtures/optim.safetensors with, for each optimiser case
("sgd", "adam") run for STEPS steps on the parameters PARAMS:
  <case>.<param>.init          the initial value (float32-representable)
  <case>.<param>.grad<k>       the gradient given at step k (float32-representable)
  <case>.<param>.after<k>      the parameter after step k (float64 reference)
  <case>.<param>.<state>       the final optimiser state (momentum_buffer, or exp_avg, exp_avg_sq)
  <case>.lr                    the learning rate of each step (float32-representable)
and, for each schedule setting (kind, epochs, batches_per_epoch, lr_max), at
every iteration of epochs 0..E (epoch 0 being the single statistics iteration),
  sched.<kind>.<E>.<n>.lr      np.interp / the piecewise rule, in float64.
Hyperparameters are float32-representable so that the reference is the exact
math of the C test's inputs; the C test (tests/test_optim.c) holds the same
tables, matched by name.
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_py  # noqa: E402

torch.set_default_dtype(torch.float64)
rng = np.random.default_rng(20200618)


def f32(x):
    return float(np.float32(x))


def rand(*shape):
    return rng.standard_normal(shape).astype(np.float32).astype(np.float64)


PARAMS = {"conv.weight": (2, 3, 3, 3), "fc.weight": (4, 5), "bn.bias": (6,), "scale": (1,)}
STEPS = 6
CASES = {
    # name: (make the optimiser from a parameter list, learning rates per step)
    "sgd": (lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=f32(0.9), weight_decay=f32(0.05)),
            [0.1, 0.05, 0.2, 0.01, 0.15, 0.0]),
    "adam": (lambda ps: torch.optim.Adam(ps, lr=1e-3, betas=(f32(0.9), f32(0.999)), eps=f32(1e-8),
                                         weight_decay=f32(0.05)),
             [1e-3, 2e-3, 5e-4, 3e-3, 1e-4, 0.0]),
}
STATE_NAMES = ["momentum_buffer", "exp_avg", "exp_avg_sq"]

# (kind, epochs, batches_per_epoch, lr_max); 2E/5 not whole for 7, 1, 3
SCHEDULES = [("cyclic", 30, 7, 0.2), ("cyclic", 7, 5, 0.05), ("cyclic", 1, 3, 0.2),
             ("cyclic", 5, 4, 0.3), ("cyclic", 3, 2, 0.15),
             ("piecewise", 30, 7, 0.2), ("piecewise", 7, 5, 0.05), ("piecewise", 1, 3, 0.2),
             ("piecewise", 4, 8, 0.1)]


def lr_at(kind, epochs, lr_max, t):
    """The paper's train.py schedules."""
    if kind == "cyclic":
        return np.interp([t], [0, epochs * 2 // 5, epochs], [0, lr_max, 0])[0]
    if t / epochs < 0.5:
        return lr_max
    if t / epochs < 0.75:
        return lr_max / 10.
    return lr_max / 100.


def optimiser_case(out, case, make, lrs):
    params = {name: torch.tensor(rand(*shape), requires_grad=True) for name, shape in PARAMS.items()}
    opt = make(list(params.values()))
    for name, p in params.items():
        out[f"{case}.{name}.init"] = p.detach().numpy().copy()
    lrs = [f32(lr) for lr in lrs]
    for k, lr in enumerate(lrs):
        for g in opt.param_groups:
            g["lr"] = lr
        for name, p in params.items():
            p.grad = torch.tensor(rand(*p.shape))
            out[f"{case}.{name}.grad{k}"] = p.grad.numpy().copy()
        opt.step()
        for name, p in params.items():
            out[f"{case}.{name}.after{k}"] = p.detach().numpy().copy()
    for name, p in params.items():
        for state, value in opt.state[p].items():
            if state in STATE_NAMES:
                out[f"{case}.{name}.{state}"] = value.numpy().copy()
    out[f"{case}.lr"] = np.array(lrs)


def schedule_case(out, kind, epochs, n, lr_max):
    lr_max = f32(lr_max)
    lrs = [lr_at(kind, epochs, lr_max, 0 - 1 + 1 / n)]  # epoch 0: one iteration
    for epoch in range(1, epochs + 1):
        for i in range(n):
            lrs.append(lr_at(kind, epochs, lr_max, epoch - 1 + (i + 1) / n))
    out[f"sched.{kind}.{epochs}.{n}.lr"] = np.array(lrs)


def main(out_dir):
    out = {}
    for case, (make, lrs) in CASES.items():
        optimiser_case(out, case, make, lrs)
    for kind, epochs, n, lr_max in SCHEDULES:
        schedule_case(out, kind, epochs, n, lr_max)
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "optim.safetensors")
    safetensors_py.save(path, out, {"generator": "scripts/gen_optim_fixtures.py", "torch": torch.__version__})
    print(f"wrote {len(out)} tensors to {path}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures")
