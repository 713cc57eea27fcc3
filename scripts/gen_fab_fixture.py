#!/usr/bin/python3
"""PyTorch float64 references for FAB-T (docs/AUTOATTACK.md), written from the
paper (Croce & Hein, ICML 2020, "Minimally distorted adversarial examples with
a fast adaptive boundary attack"), not from fastadv's C code.

Run with Debian's python3-torch:  /usr/bin/python3 scripts/gen_fab_fixture.py tests/fixtures

Writes fab.safetensors holding:
  proj.n (cases), proj.t, proj.w (the cases' coordinates, concatenated),
  proj.b (cases, float64), proj.d
      The L-infinity projection of t onto the hyperplane <w, z> = b within the
      box [0, 1]^n: d of least max |d_i| with <w, t + d> = b and t + d in the
      box; where the box does not reach the hyperplane, the corner nearest to
      it (every coordinate at the bound that moves <w, z> toward b). Computed
      here by evaluating g(r) = sum_i |w_i| min(r, room_i) at every breakpoint
      and solving on the segment that holds the root (room_i: how far the
      box lets coordinate i move toward the hyperplane). Random cases of 1 to
      784 coordinates, some pixels at 0 or 1, some w_i = 0, both sides of the
      hyperplane, the box active or not, the hyperplane out of reach; and 40
      whose root lies past many breakpoints (rooms growing geometrically,
      weights a power of them), at least 10 of them past the 8 Newton steps
      fastadv takes before it sorts.
  run.x, run.labels, run.targets, run.start: the cnn (1 layer, 4 filters,
      hashed weights, fixture_common) in evaluation mode, 4 random images
      (those of 32 candidates whose every classification in the iterations
      is decided by more than 1e-4 in the logits, adversarial ones first;
      the final search lands on the boundary of this piecewise linear model
      by design, where either side gives the same point within rounding),
      labels the top class of the clean logits, targets the second, a start
      t / max|t| * eps / 2 with t uniform in [-1, 1] (eps = 8/255).
  run.delta (n_iter, N, 1, 28, 28): each iterate x^(k+1) - x after its step
      (before the backward step); run.best_norm (n_iter, N): the smallest
      adversarial perturbation's norm so far (1e30 where none); run.found:
      whether an adversarial point was found. 10 iterations. The final
      search is not in the fixture: its steps land on the boundary of this
      piecewise linear model (the linear interpolation's root), where
      float32 and float64 may classify a point differently, and the point
      kept moves or not accordingly; the C test checks that its result is
      misclassified and no larger than the point before it.

FAB-T, per example, with f = z_t - z_y and w = grad f at x^(k), the hyperplane
<w, z> = <w, x^(k)> - f:
  d1 = P(x^(k)) - x^(k),  d2 = P(x) - x  (P: the projection above),
  alpha = min(a1 / (a1 + a2), alpha_max), a = max(max |d|, 1e-8),
  x^(k+1) = clip((x^(k) + eta d1)(1 - alpha) + (x + eta d2) alpha, 0, 1);
if x^(k+1) is misclassified: kept when smaller than the best so far, and
x^(k+1) <- x + beta (x^(k+1) - x). alpha_max = 0.1, eta = 1.05, beta = 0.9.
The final search (3 steps): from a1 = x and a2 = the best adversarial point
(l its class), u = t1 / (t1 + t2 + 1e-10) with t1 = z_y(a1) - z_l(a1),
t2 = z_l(a2) - z_y(a2) (u outside [0, 1]: 1), a3 = a1 (1 - u) + a2 u
replaces a1 if classified y, else a2 (and l).
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_py  # noqa: E402
from fastadv_models import CNN  # noqa: E402
from fixture_common import fill_hashed  # noqa: E402

torch.set_default_dtype(torch.float64)
f32 = np.float32
EPS = float(f32(8) / f32(255))
N_ITER = 10
N_CANDIDATES, N_RUN = 32, 4
ALPHA_MAX, ETA, BETA, FINAL_STEPS = 0.1, 1.05, 0.9, 3
MARGIN = 1e-4
NEWTON_STEPS_C = 8  # PROJECT_NEWTON_STEPS of src/adv/fab.c


def project_linf(t, w, b):
    """The projection of the 1-d point t (float64) onto <w, z> = b within [0, 1]^n."""
    gap = b - float((w * t).sum())
    side = 1.0 if gap > 0 else -1.0
    direction = side * torch.sign(w)
    room = torch.where(direction > 0, 1 - t, t).clamp(min=0) * (w != 0)
    a, need = w.abs(), abs(gap)
    reach = float((a * room).sum())
    if need == 0:
        r = 0.0
    elif reach <= need:
        r = float("inf")
    else:
        breaks = torch.unique(torch.cat((torch.zeros(1), room)))  # sorted
        g = (a[None, :] * torch.minimum(breaks[:, None], room[None, :])).sum(1)
        k = int((g >= need).nonzero()[0])  # g(0) = 0 < need, so k >= 1
        left = breaks[k - 1]
        slope = a[room > left].sum()
        r = float(left + (need - g[k - 1]) / slope)
    return direction * torch.minimum(torch.full_like(room, r), room)


def newton_steps(room, a, need):
    """Newton steps from r = 0 on g(r) = sum a min(r, room) = need until no room lies
    between two of them (the count of fastadv's first stage, which stops at 8)."""
    below, free, steps = 0.0, torch.ones_like(room, dtype=torch.bool), 0
    while True:
        steps += 1
        r = (need - below) / float(a[free].sum())
        passed = free & (room <= r)
        if not passed.any():
            return steps
        below += float((a[passed] * room[passed]).sum())
        free &= ~passed


def projection_cases(out, rng):
    ns, ts, ws, bs, ds = [], [], [], [], []
    sizes = [1, 2, 3, 5, 10, 50, 784]
    for case in range(300):
        n = sizes[case % len(sizes)]
        t = rng.uniform(0, 1, n)
        snap = rng.uniform(0, 1, n)
        t[snap < 0.15], t[snap > 0.85] = 0.0, 1.0
        w = rng.normal(0, 1, n) * (rng.uniform(0, 1, n) > 0.2)
        t, w = torch.tensor(t.astype(f32).astype(np.float64)), torch.tensor(w.astype(f32).astype(np.float64))
        side = 1.0 if case % 2 else -1.0
        room = torch.where(side * w > 0, 1 - t, t) * (w != 0)
        reach = float((w.abs() * room).sum())
        kind = (case // 2) % 4  # inside the unit box's reach (small, large), just within it, beyond it
        share = {0: rng.uniform(0, 0.05), 1: rng.uniform(0.05, 0.95), 2: 0.999, 3: 1.5}[kind]
        b = float((w * t).sum()) + side * share * reach
        ns.append(n)
        ts.append(t)
        ws.append(w)
        bs.append(b)
        ds.append(project_linf(t, w, b))
    # coordinates whose rooms grow geometrically with weights falling as a power of the room: the
    # root lies past many breakpoints, so that fastadv's Newton steps leave it to the sorting (slow_cases)
    slow = 0
    for case in range(40):
        n = 50 if case % 2 else 784
        room = np.geomspace(1e-4, 1, n)
        t = torch.tensor((1 - room).astype(f32).astype(np.float64))
        w = torch.tensor((room ** rng.uniform(-3, 0)).astype(f32).astype(np.float64))
        reach = float((w * (1 - t)).sum())
        b = float((w * t).sum()) + rng.uniform(0.9, 0.99999) * reach
        slow += newton_steps(1 - t, w, b - float((w * t).sum())) > NEWTON_STEPS_C
        ns.append(n)
        ts.append(t)
        ws.append(w)
        bs.append(b)
        ds.append(project_linf(t, w, b))
    assert slow >= 10, slow
    print(f"projection: {len(ns)} cases, {slow} past {NEWTON_STEPS_C} Newton steps")
    out["proj.n"] = torch.tensor(ns, dtype=torch.int32)
    out["proj.t"], out["proj.w"] = torch.cat(ts).float(), torch.cat(ws).float()
    out["proj.b"], out["proj.d"] = torch.tensor(bs), torch.cat(ds).float()


def fab_run(model, x, y, t, start):
    """The paper's FAB-T iterations and final search; returns the iterates,
    the results and the smallest logit margin of every classification made."""
    n = x.shape[0]
    u = torch.arange(n)
    margins = []

    def classify(p, searching=False):
        with torch.no_grad():
            z = model(p)
        top2 = z.topk(2, dim=1).values
        if not searching:  # the final search lands on the boundary by design: either side will do
            margins.append((top2[:, 0] - top2[:, 1]).abs())
        return z, z.argmax(1)

    x1 = (x + start).clamp(0, 1)
    best = torch.full((n,), float("inf"))
    adv = torch.zeros_like(x)
    iterates, best_norms = [], []
    for _ in range(N_ITER):
        p = x1.clone().requires_grad_(True)
        z = model(p)
        f = z[u, t] - z[u, y]
        w, = torch.autograd.grad(f.sum(), p)
        step = torch.empty_like(x1)
        for i in range(n):
            wi, xi, pi = w[i].flatten(), x[i].flatten(), x1[i].flatten()
            b = float((wi * pi).sum() - f[i])
            d1, d2 = project_linf(pi, wi, b), project_linf(xi, wi, b)
            a1, a2 = max(float(d1.abs().max()), 1e-8), max(float(d2.abs().max()), 1e-8)
            alpha = min(a1 / (a1 + a2), ALPHA_MAX)
            step[i] = ((pi + ETA * d1) * (1 - alpha) + (xi + ETA * d2) * alpha).clamp(0, 1).view_as(x1[i])
        x1 = step
        iterates.append(x1 - x)
        _, pred = classify(x1)
        for i in (pred != y).nonzero().flatten().tolist():
            norm = float((x1[i] - x[i]).abs().max())
            if norm < best[i]:
                best[i], adv[i] = norm, x1[i] - x[i]
        best_norms.append(best.clone())
        for i in (pred != y).nonzero().flatten().tolist():
            x1[i] = x[i] + BETA * (x1[i] - x[i])
    found = best < float("inf")
    inner, outer = x.clone(), x + adv
    z_in, _ = classify(inner, True)
    z_out, l_out = classify(outer, True)
    for _ in range(FINAL_STEPS):
        t1 = z_in[u, y] - z_in[u, l_out]
        t2 = -(z_out[u, y] - z_out[u, l_out])
        s = t1 / (t1 + t2 + 1e-10)
        s[~((s >= 0) & (s <= 1))] = 1.0
        mid = inner * (1 - s.view(-1, 1, 1, 1)) + outer * s.view(-1, 1, 1, 1)
        z_mid, l_mid = classify(mid, True)
        for i in range(n):
            if not found[i]:
                continue
            if l_mid[i] == y[i]:
                inner[i], z_in[i] = mid[i], z_mid[i]
            else:
                outer[i], z_out[i], l_out[i] = mid[i], z_mid[i], l_mid[i]
    adv = torch.where(found.view(-1, 1, 1, 1), outer - x, torch.zeros_like(x))
    norm = torch.where(found, adv.flatten(1).abs().max(1).values, torch.full((n,), float("inf")))
    trace = {"delta": torch.stack(iterates), "best_norm": torch.stack(best_norms)}
    return trace, {"found": found, "norm": norm, "adv": adv}, torch.stack(margins).min(0).values


def run_case(out, rng):
    model = CNN(1, 28, 28, 10, 1, 4)
    fill_hashed(model)
    model.eval()
    x = torch.tensor(rng.uniform(0, 1, (N_CANDIDATES, 1, 28, 28)).astype(f32).astype(np.float64))
    t = rng.uniform(-1, 1, x.shape)
    t = t / np.abs(t.reshape(N_CANDIDATES, -1)).max(1).reshape(-1, 1, 1, 1) * (EPS / 2)
    start = torch.tensor(t.astype(f32).astype(np.float64))
    with torch.no_grad():
        order = model(x).argsort(dim=1, descending=True)
    y, target = order[:, 0].clone(), order[:, 1].clone()
    _, result, margin = fab_run(model, x, y, target, start)
    clear = margin > MARGIN
    ranked = sorted(clear.nonzero().flatten().tolist(), key=lambda i: not bool(result["found"][i]))
    keep = torch.tensor(ranked[:N_RUN])
    x, start, y, target = x[keep], start[keep], y[keep], target[keep]
    iterates, result, margin = fab_run(model, x, y, target, start)
    assert bool((margin > MARGIN).all())
    out["run.x"], out["run.labels"], out["run.targets"], out["run.start"] = x.float(), y.int(), target.int(), \
        start.float()
    out["run.delta"] = iterates["delta"].float()
    out["run.best_norm"] = iterates["best_norm"].clamp(max=1e30).float()
    out["run.found"] = result["found"].to(torch.uint8)
    print(f"run: {int(clear.sum())} of {N_CANDIDATES} candidates clear of the boundary; found "
          f"{result['found'].tolist()}, norms * 255 {(result['norm'] * 255).tolist()}")


def main(out_dir):
    rng = np.random.default_rng(15)
    out = {}
    projection_cases(out, rng)
    run_case(out, rng)
    out = {k: v.detach().numpy() for k, v in out.items()}
    path = os.path.join(out_dir, "fab.safetensors")
    meta = {"generator": "scripts/gen_fab_fixture.py", "eps": repr(EPS), "n_iter": str(N_ITER)}
    safetensors_py.save(path, out, meta)
    print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures")
