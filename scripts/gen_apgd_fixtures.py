#!/usr/bin/python3
"""PyTorch float64 references for APGD (docs/AUTOATTACK.md), written from the
paper (Croce & Hein, ICML 2020), not from fastadv's C code.

Run with Debian's python3-torch:  /usr/bin/python3 scripts/gen_apgd_fixtures.py tests/fixtures

Writes apgd.safetensors holding:
  dlr.<case>.logits, .labels, [.targets], .loss, .grad
      The DLR loss  -(z_y - max_{i != y} z_i) / (z_pi1 - z_pi3 + 1e-12)  and the
      targeted DLR  -(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2 + 1e-12)  of
      logits z (sorted z_pi1 >= z_pi2 >= ...), per example, and the gradient
      of their sum in the logits. Cases: "dlr10" (8 x 10, the true class top in
      half the rows), "dlr3" (3 classes, the fewest), "targeted10",
      "targeted4" (4 classes, the fewest).
  schedule.<n_iter>  the checkpoints w_j = ceil(p_j n_iter) <= n_iter,
      p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06),
      in exact fractions.
  run.x, run.labels, run.start, run.targets: the cnn (1 layer, 4 filters,
      hashed weights, fixture_common) in evaluation mode, 4 random images
      (the first of 32 candidates whose DLR run keeps clear of DLR's flat
      region, flat_dlr), labels the top class of the clean logits (the
      second for every fourth candidate, misclassified from the start), the
      next class as the target, a start uniform in the ball.
  run.<loss>.delta (n_iter, N, 1, 28, 28), .loss (n_iter, N), .step
      (n_iter, N): each iterate x^(k) - x, its loss and the step size that
      made it; .adv, .best, .best_loss, .broken: the run's results. Losses
      ce, dlr, targeted; eps 2/255, 20 iterations (windows of 5, 4, 3, 2, 2, 2, 1, 1 between checkpoints).

APGD as the paper's Algorithm 1, on points x^(k) (fastadv keeps x^(k) - x):
  x^(1) = P(x^(0) + eta sign grad f(x^(0))),
  x^(k+1) = P(x^(k) + alpha (z - x^(k)) + (1 - alpha)(x^(k) - x^(k-1))),
  z = P(x^(k) + eta sign grad f(x^(k))), alpha = 0.75, eta = 2 eps at first;
at checkpoint w_j (after x^(w_j)): if condition 1 (fewer than rho = 0.75 of
the w_j - w_{j-1} steps since the last checkpoint raised the loss,
f(x^(i+1)) > f(x^(i)), x^(0) included) or condition 2 (eta not halved at
w_{j-1} and f_max not risen since; at w_1 against f(x^(0))), eta is halved
and x^(w_j) <- x_max (the gradient taken there). An example is broken when any
iterate, x^(0) included, is misclassified; adv is the last such iterate.
"""
import math
import os
import sys
from fractions import Fraction

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_py  # noqa: E402
from fastadv_models import CNN  # noqa: E402
from fixture_common import fill_hashed  # noqa: E402

torch.set_default_dtype(torch.float64)
f32 = np.float32
EPS = float(f32(2) / f32(255))
N_ITER = 20
N_CANDIDATES, N_RUN = 32, 4
ALPHA, RHO = 0.75, 0.75


def dlr(z, y):
    zs, ind = z.sort(dim=1, descending=True)
    u = torch.arange(z.shape[0])
    other = torch.where(ind[:, 0] == y, zs[:, 1], zs[:, 0])
    return -(z[u, y] - other) / (zs[:, 0] - zs[:, 2] + 1e-12)


def dlr_targeted(z, y, t):
    zs, _ = z.sort(dim=1, descending=True)
    u = torch.arange(z.shape[0])
    return -(z[u, y] - z[u, t]) / (zs[:, 0] - 0.5 * (zs[:, 2] + zs[:, 3]) + 1e-12)


def loss_case(out, name, z, y, t=None):
    z = z.clone().requires_grad_(True)
    loss = dlr(z, y) if t is None else dlr_targeted(z, y, t)
    grad, = torch.autograd.grad(loss.sum(), z)
    out[f"dlr.{name}.logits"], out[f"dlr.{name}.labels"] = z.detach().float(), y.int()
    if t is not None:
        out[f"dlr.{name}.targets"] = t.int()
    out[f"dlr.{name}.loss"], out[f"dlr.{name}.grad"] = loss.detach().float(), grad.float()


def logits32(rng, n, k):
    return torch.tensor(rng.normal(0, 3, (n, k)).astype(np.float32).astype(np.float64))


def loss_cases(out, rng):
    z = logits32(rng, 8, 10)
    y = torch.tensor(rng.integers(0, 10, 8))
    y[::2] = z[::2].argmax(1)  # the true class on top in half the rows
    loss_case(out, "dlr10", z, y)
    z = logits32(rng, 5, 3)
    loss_case(out, "dlr3", z, torch.tensor(rng.integers(0, 3, 5)))
    for name, k in (("targeted10", 10), ("targeted4", 4)):
        z = logits32(rng, 6, k)
        y = torch.tensor(rng.integers(0, k, 6))
        t = (y + torch.tensor(rng.integers(1, k, 6))) % k  # any class but y
        loss_case(out, name, z, y, t)


def schedule(n_iter):
    p_prev, p, w = Fraction(0), Fraction(22, 100), []
    while math.ceil(p * n_iter) <= n_iter:
        wj = math.ceil(p * n_iter)
        if not w or wj > w[-1]:
            w.append(wj)
        p_prev, p = p, p + max(p - p_prev - Fraction(3, 100), Fraction(6, 100))
    return w


def apgd(model, x, y, start, loss_fn):
    """The paper's APGD from x^(0) = P(x + start); returns the trace and the results."""
    lo, hi = torch.clamp(x - EPS, min=0.0), torch.clamp(x + EPS, max=1.0)

    def P(p):
        return torch.max(torch.min(p, hi), lo)

    def f(p):
        p = p.clone().requires_grad_(True)
        logits = model(p)
        loss = loss_fn(logits)
        grad, = torch.autograd.grad(loss.sum(), p)
        return loss.detach(), grad, logits.argmax(1) != y

    n = x.shape[0]
    checks = schedule(N_ITER)
    xk = P(x + start)
    loss, grad, wrong = f(xk)
    eta = torch.full((n,), 2 * EPS)
    x_best, g_best, f_max = xk.clone(), grad.clone(), loss.clone()
    adv, broken = xk.clone(), wrong.clone()
    x_prev, f_prev = xk.clone(), loss.clone()
    raised = torch.zeros(n)
    halved = torch.zeros(n, dtype=torch.bool)
    f_max_at_check, last_check = f_max.clone(), 0
    trace = {"delta": [], "loss": [], "step": []}
    for k in range(N_ITER):
        e = eta.view(-1, 1, 1, 1)
        z = P(xk + e * torch.sign(grad))
        x_next = z if k == 0 else P(xk + ALPHA * (z - xk) + (1 - ALPHA) * (xk - x_prev))
        x_prev, xk = xk, x_next
        loss, grad, wrong = f(xk)
        trace["delta"].append(xk - x)
        trace["loss"].append(loss)
        trace["step"].append(eta.clone())
        raised += (loss > f_prev).double()
        f_prev = loss.clone()
        broken |= wrong
        adv[wrong] = xk[wrong]
        better = loss > f_max
        f_max[better], x_best[better], g_best[better] = loss[better], xk[better], grad[better]
        if k + 1 in checks:
            window = k + 1 - last_check
            cond1 = raised < RHO * window
            cond2 = ~halved & ~(f_max > f_max_at_check)
            restart = cond1 | cond2
            eta[restart] /= 2
            xk[restart], grad[restart], f_prev[restart] = x_best[restart], g_best[restart], f_max[restart]
            halved, f_max_at_check, raised, last_check = restart, f_max.clone(), torch.zeros(n), k + 1
    result = {"adv": adv - x, "best": x_best - x, "best_loss": f_max, "broken": broken}
    return {k: torch.stack(v) for k, v in trace.items()}, result


def flat_dlr(model, x, y, start):
    """Which examples' DLR runs pass where the loss is 1 and flat (the true
    class third): its gradient there is 0 but for the 1e-12, which float32
    cannot hold, so fastadv's signs there are rounding noise (as PyTorch's
    in float32); the reference runs keep clear of it."""
    trace, _ = apgd(model, x, y, start, lambda z: dlr(z, y))
    return (torch.abs(trace["loss"] - 1) < 1e-6).any(0)


def run_cases(out, rng):
    model = CNN(1, 28, 28, 10, 1, 4)
    fill_hashed(model)
    model.eval()
    x = torch.tensor(rng.uniform(0, 1, (N_CANDIDATES, 1, 28, 28)).astype(np.float32).astype(np.float64))
    start = torch.tensor(rng.uniform(-EPS, EPS, x.shape).astype(np.float32).astype(np.float64))
    with torch.no_grad():
        order = model(x).argsort(dim=1, descending=True)
    y, t = order[:, 0].clone(), order[:, 1].clone()
    y[3::4], t[3::4] = order[3::4, 1], order[3::4, 2]  # a quarter misclassified from the start
    keep = (~flat_dlr(model, x, y, start)).nonzero().flatten()[:N_RUN]
    x, start, y, t = x[keep], start[keep], y[keep], t[keep]
    out["run.x"], out["run.labels"], out["run.targets"], out["run.start"] = x.float(), y.int(), t.int(), start.float()
    losses = {"ce": lambda z: F.cross_entropy(z, y, reduction="none"), "dlr": lambda z: dlr(z, y),
              "targeted": lambda z: dlr_targeted(z, y, t)}
    for name, fn in losses.items():
        trace, result = apgd(model, x, y, start, fn)
        for key, v in list(trace.items()) + list(result.items()):
            out[f"run.{name}.{key}"] = v.float() if v.dtype == torch.float64 else v.to(torch.uint8)
        print(f"{name}: broken {result['broken'].tolist()}, step sizes at the end / eps "
              f"{(trace['step'][-1] / EPS).tolist()}")


def main(out_dir):
    rng = np.random.default_rng(15)
    out = {}
    loss_cases(out, rng)
    for n_iter in (1, 2, 3, 5, 10, 22, 50, 100, 250, 1000):
        out[f"schedule.{n_iter}"] = torch.tensor(schedule(n_iter), dtype=torch.int32)
    run_cases(out, rng)
    out = {k: v.detach().numpy() for k, v in out.items()}
    path = os.path.join(out_dir, "apgd.safetensors")
    meta = {"generator": "scripts/gen_apgd_fixtures.py", "eps": repr(EPS), "n_iter": str(N_ITER)}
    safetensors_py.save(path, out, meta)
    print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures")
