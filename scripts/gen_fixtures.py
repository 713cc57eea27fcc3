#!/usr/bin/python3
"""PyTorch float64 reference fixtures for the engine's op tests.

Run with Debian's python3-torch:  /usr/bin/python3 scripts/gen_fixtures.py tests/fixtures

For every case in OP_CASES it stores, in tests/fixtures/ops.safetensors
under "<case>.<name>":
  x0, x1, ...   the inputs (random, exactly representable in float32)
  y             the forward value
  u             a random tensor of y's shape;    L1 = sum(y * u)
  g0, g1, ...   dL1/dx_i
  v0, v1, ...   random tensors of the inputs' shapes;  L2 = sum_i sum(g_i * v_i)
  h0, h1, ...   dL2/dx_i  (the second-order quantity; zeros where L2 does not
                depend on x_i, e.g. for ops linear in their input)
plus per-case extras (labels, running statistics). The C test
(tests/test_ops.c) computes the same quantities with fa_grad(create_graph)
and compares. The case table here and the one in the C test are matched by
name; parameters (stride, padding...) are written in both.
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_py  # noqa: E402

torch.set_default_dtype(torch.float64)
rng = np.random.default_rng(20201207)


def rand(*shape, lo=None, hi=None, gen=None):
    gen = gen or rng
    if lo is None:
        a = gen.standard_normal(shape)
    else:
        a = gen.uniform(lo, hi, shape)
    return torch.tensor(a.astype(np.float32).astype(np.float64))


LABELS = {}  # case -> labels used by the op


def labels_for(case, n, k):
    LABELS[case] = torch.tensor(rng.integers(0, k, n), dtype=torch.int64)
    return LABELS[case]


def bn_train(x, g, b):
    rm, rv = torch.zeros(x.shape[1]), torch.ones(x.shape[1])
    y = F.batch_norm(x, rm, rv, g, b, training=True, momentum=0.1, eps=1e-5)
    return y, {"running_mean": rm, "running_var": rv}


BN_EVAL_STATS = {"running_mean": rand(3), "running_var": rand(3, lo=0.5, hi=2.0)}

# name: (inputs, function of the inputs returning y or (y, extras))
OP_CASES = {
    "add_same": ([rand(2, 3, 4, 5), rand(2, 3, 4, 5)], lambda a, b: a + b),
    "add_channel": ([rand(2, 3, 4, 5), rand(1, 3, 1, 1)], lambda a, b: a + b),
    "add_row": ([rand(4, 6), rand(6)], lambda a, b: a + b),
    "sub_example": ([rand(2, 3, 4, 5), rand(2, 1, 1, 1)], lambda a, b: a - b),
    "mul_same": ([rand(2, 3, 4, 5), rand(2, 3, 4, 5)], lambda a, b: a * b),
    "mul_channel": ([rand(2, 3, 4, 5), rand(1, 3, 1, 1)], lambda a, b: a * b),
    "mul_scalar": ([rand(3, 4), rand(1)], lambda a, b: a * b),
    "div_channel": ([rand(2, 3, 4, 5), rand(1, 3, 1, 1, lo=0.5, hi=2.0)], lambda a, b: a / b),
    "div_same": ([rand(3, 7), rand(3, 7, lo=0.5, hi=2.0)], lambda a, b: a / b),
    "affine": ([rand(2, 3, 4, 5)], lambda x: 2.5 * x - 0.3),
    "relu": ([rand(2, 3, 4, 5)], F.relu),
    "sqrt": ([rand(2, 3, 4, 5, lo=0.5, hi=2.0)], torch.sqrt),
    "exp": ([rand(2, 3, 4, 5)], torch.exp),
    "clamp": ([rand(2, 3, 4, 5)], lambda x: torch.clamp(x, -0.5, 0.5)),
    # sign's gradient is zero: fastadv makes its result a constant, as for a comparison
    "sign": ([rand(2, 3, 4, 5)], lambda x: torch.sign(x).detach()),
    "sum_channel": ([rand(2, 3, 4, 5)], lambda x: x.sum((0, 2, 3), keepdim=True)),
    "sum_example": ([rand(2, 3, 4, 5)], lambda x: x.sum((1, 2, 3), keepdim=True)),
    "sum_rows": ([rand(5, 7)], lambda x: x.sum(0, keepdim=True)),
    "mean_all": ([rand(2, 3, 4, 5)], lambda x: x.mean()),
    "expand_channel": ([rand(1, 3, 1, 1)], lambda x: x.expand(2, 3, 4, 5)),
    "reshape": ([rand(2, 3, 4, 5)], lambda x: x.reshape(6, 20)),
    "select_rows": ([rand(5, 2, 3, 3)], lambda x: x[[4, 1, 1, 3]]),
    "square": ([rand(2, 3, 4, 5)], lambda x: x * x),
    "matmul_nn": ([rand(4, 6), rand(6, 5)], lambda a, b: a @ b),
    "matmul_tn": ([rand(6, 4), rand(6, 5)], lambda a, b: a.t() @ b),
    "matmul_nt": ([rand(4, 6), rand(5, 6)], lambda a, b: a @ b.t()),
    "matmul_tt": ([rand(6, 4), rand(5, 6)], lambda a, b: a.t() @ b.t()),
    "linear": ([rand(5, 7), rand(3, 7), rand(3)], F.linear),
    "conv_s1p1": ([rand(2, 3, 7, 7), rand(4, 3, 3, 3)], lambda x, w: F.conv2d(x, w, stride=1, padding=1)),
    "conv_s2p1": ([rand(2, 3, 7, 7), rand(4, 3, 3, 3)], lambda x, w: F.conv2d(x, w, stride=2, padding=1)),
    "conv_k1s2": ([rand(2, 3, 8, 8), rand(5, 3, 1, 1)], lambda x, w: F.conv2d(x, w, stride=2, padding=0)),
    "conv_k5p2": ([rand(2, 2, 9, 6), rand(3, 2, 5, 5)], lambda x, w: F.conv2d(x, w, stride=1, padding=2)),
    "conv_k3p0": ([rand(1, 1, 6, 5), rand(2, 1, 3, 3)], lambda x, w: F.conv2d(x, w, stride=1, padding=0)),
    "conv_bias": ([rand(2, 3, 6, 6), rand(4, 3, 3, 3), rand(4)],
                  lambda x, w, b: F.conv2d(x, w, b, stride=1, padding=1)),
    "conv_grad_input": ([rand(2, 4, 4, 4), rand(4, 3, 3, 3)],
                        lambda gy, w: torch.nn.grad.conv2d_input((2, 3, 7, 7), w, gy, stride=2, padding=1)),
    "conv_grad_weight": ([rand(2, 4, 4, 4), rand(2, 3, 7, 7)],
                         lambda gy, x: torch.nn.grad.conv2d_weight(x, (4, 3, 3, 3), gy, stride=2, padding=1)),
    "avg_pool2": ([rand(2, 3, 4, 6)], lambda x: F.avg_pool2d(x, 2)),
    "avg_pool4": ([rand(2, 3, 4, 4)], lambda x: F.avg_pool2d(x, 4)),
    "avg_pool_adjoint": ([rand(2, 3, 2, 3)], lambda g: F.interpolate(g, scale_factor=2, mode="nearest") / 4),
    "max_pool2": ([rand(2, 3, 6, 4)], lambda x: F.max_pool2d(x, 2)),
    "log_softmax": ([rand(4, 10)], lambda x: F.log_softmax(x, 1)),
    "softmax": ([rand(4, 10)], lambda x: F.softmax(x, 1)),
    "cross_entropy": ([rand(6, 10)], lambda x: F.cross_entropy(x, labels_for("cross_entropy", 6, 10))),
    "cross_entropy_per_example": (
        [rand(6, 10)],
        lambda x: F.cross_entropy(x, labels_for("cross_entropy_per_example", 6, 10), reduction="none")),
    "batch_norm_train": ([rand(4, 3, 3, 5), rand(3, lo=0.5, hi=1.5), rand(3)], bn_train),
    "batch_norm_eval": ([rand(2, 3, 4, 5), rand(3, lo=0.5, hi=1.5), rand(3)],
                        lambda x, g, b: F.batch_norm(x, BN_EVAL_STATS["running_mean"].clone(),
                                                     BN_EVAL_STATS["running_var"].clone(), g, b,
                                                     training=False, eps=1e-5)),
    "cosine": ([rand(3, 2, 4, 4), rand(3, 2, 4, 4)],
               lambda a, b: F.cosine_similarity(a.flatten(1), b.flatten(1), dim=1, eps=0.0)),
    "channel_affine": ([rand(2, 3, 4, 5), rand(1, 3, 1, 1), rand(1, 3, 1, 1)], lambda x, s, b: x * s + b),
    "channel_affine_relu": ([rand(2, 3, 4, 5), rand(1, 3, 1, 1), rand(1, 3, 1, 1)],
                            lambda x, s, b: F.relu(x * s + b)),
    "channel_variance": ([rand(2, 3, 4, 5), rand(1, 3, 1, 1)],
                         lambda x, m: ((x - m) ** 2).mean((0, 2, 3), keepdim=True)),
    "batch_norm_relu_train": ([rand(4, 3, 3, 5), rand(3, lo=0.5, hi=1.5), rand(3)],
                              lambda x, g, b: (lambda y, e: (F.relu(y), e))(*bn_train(x, g, b))),
}

# Cases added later draw their inputs from a generator of their own and come
# last, so that the earlier cases' numbers stay as they were.
late = np.random.default_rng(20261125)
# the model's input clip(x + delta), x + delta straddling [0, 1]
OP_CASES["add_clamp"] = ([rand(2, 3, 4, 5, lo=-0.4, hi=1.4, gen=late), rand(2, 3, 4, 5, lo=-0.3, hi=0.3, gen=late)],
                         lambda a, b: torch.clamp(a + b, 0.0, 1.0))
# per example: <a_r, b_r>, and a_r alpha_r + b_r beta_r
OP_CASES["row_dot"] = ([rand(3, 2, 4, 5, gen=late), rand(3, 2, 4, 5, gen=late)], lambda a, b: (a * b).sum((1, 2, 3)))
OP_CASES["row_combine"] = ([rand(3, 2, 4, 5, gen=late), rand(3, gen=late), rand(3, 2, 4, 5, gen=late), rand(3, gen=late)],
                           lambda a, s, b, t: a * s[:, None, None, None] + b * t[:, None, None, None])


def main(out_dir):
    tensors = {}
    for case, (inputs, fn) in OP_CASES.items():
        xs = [x.clone().requires_grad_(True) for x in inputs]
        result = fn(*xs)
        y, extras = result if isinstance(result, tuple) else (result, {})
        u = rand(*y.shape)
        out = {"y": y}
        if y.requires_grad:
            l1 = (y * u).sum()
            gs = torch.autograd.grad(l1, xs, create_graph=True, allow_unused=True)
            gs = [torch.zeros_like(x) if g is None else g for g, x in zip(gs, xs)]
            vs = [rand(*x.shape) for x in xs]
            l2 = sum((g * v).sum() for g, v in zip(gs, vs))
            if l2.requires_grad:
                hs = torch.autograd.grad(l2, xs, allow_unused=True)
                hs = [torch.zeros_like(x) if h is None else h for h, x in zip(hs, xs)]
            else:
                hs = [torch.zeros_like(x) for x in xs]
            for i, (g, v, h) in enumerate(zip(gs, vs, hs)):
                out[f"g{i}"], out[f"v{i}"], out[f"h{i}"] = g, v, h
        out["u"] = u
        for i, x in enumerate(inputs):
            out[f"x{i}"] = x
        if case in LABELS:
            out["labels"] = LABELS[case]
        if case == "batch_norm_eval":
            extras = BN_EVAL_STATS
        out.update(extras)
        for name, t in out.items():
            t = t.detach()
            if t.dim() == 0:
                t = t.reshape(1)
            tensors[f"{case}.{name}"] = t.numpy()
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "ops.safetensors")
    safetensors_py.save(path, tensors, {"generator": "scripts/gen_fixtures.py", "torch": torch.__version__})
    print(f"wrote {len(OP_CASES)} cases, {len(tensors)} tensors to {path}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures")
