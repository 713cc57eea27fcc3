#!/usr/bin/python3
"""PyTorch float64 references for Square, L-infinity (docs/AUTOATTACK.md),
written from the paper (Andriushchenko et al., ECCV 2020), not from
fastadv's C code.

Run with Debian's python3-torch:  /usr/bin/python3 scripts/gen_square_fixture.py tests/fixtures

Writes square.safetensors holding:
  schedule.p.<length>  (length) p(i) for i = 0 .. length - 1, p_init 0.8: halved
      each time int(i / length * 10000) passes 10, 50, 200, 500, 1000, 2000,
      4000, 6000, 8000 (length 10000: the paper's; 5000 and 100 rescaled).
  schedule.side.<length>.<h>  (length) the window's side on an h x h image,
      max(round(sqrt(p h h)), 1), round half to even.
  step.x, step.labels (4 images, the clean top class), step.stripes (4, 1, 28)
      the start's signs, step.start: eps * the stripes, into the box, minus x;
      step.margin0 the start's margins z_y - max_{j != y} z_j;
      step.rows, step.cols, step.signs (4) one step's windows (side
      step.side) and signs; step.delta, step.margin: after the step (an
      example takes its candidate when the margin falls or is <= 0),
      step.taken. The cnn (1 layer, 4 filters, hashed weights,
      fixture_common) in evaluation mode, eps 8/255.
"""
import math
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
P_INIT = 0.8
HALVINGS = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)
N, SIDE = 4, 9


def p_of(i, length):
    rescaled = int(i / length * 10000)
    return P_INIT / 2 ** sum(rescaled > h for h in HALVINGS)


def side(p, h):
    return max(int(round(math.sqrt(p * h * h))), 1)  # Python's round: half to even


def margins(model, x, y):
    z = model(x)
    u = torch.arange(x.shape[0])
    others = z.clone()
    others[u, y] = -math.inf
    return z[u, y] - others.max(1)[0]


def main(out_dir):
    rng = np.random.default_rng(16)
    out = {}
    for length in (100, 5000, 10000):
        ps = [p_of(i, length) for i in range(length)]
        out[f"schedule.p.{length}"] = torch.tensor(ps).float()
        for h in (28, 32):
            out[f"schedule.side.{length}.{h}"] = torch.tensor([side(p, h) for p in ps], dtype=torch.int32)
    model = CNN(1, 28, 28, 10, 1, 4)
    fill_hashed(model)
    model.eval()
    x = torch.tensor(rng.uniform(0, 1, (N, 1, 28, 28)).astype(f32).astype(np.float64))
    with torch.no_grad():
        y = model(x).argmax(1)
        stripes = torch.tensor(rng.choice([-1.0, 1.0], (N, 1, 28)))
        start = torch.clamp(x + EPS * stripes.view(N, 1, 1, 28), 0, 1) - x
        margin0 = margins(model, x + start, y)
        rows = torch.tensor(rng.integers(0, 28 - SIDE + 1, N))
        cols = torch.tensor(rng.integers(0, 28 - SIDE + 1, N))
        signs = torch.tensor(rng.choice([-1.0, 1.0], N))
        cand = start.clone()
        for i in range(N):
            r, c = int(rows[i]), int(cols[i])
            win = cand[i, :, r:r + SIDE, c:c + SIDE]
            d = torch.clamp(win + 2 * EPS * signs[i], -EPS, EPS)
            xw = x[i, :, r:r + SIDE, c:c + SIDE]
            cand[i, :, r:r + SIDE, c:c + SIDE] = torch.clamp(xw + d, 0, 1) - xw
        margin1 = margins(model, x + cand, y)
        taken = (margin1 < margin0) | (margin1 <= 0)
        delta = torch.where(taken.view(N, 1, 1, 1), cand, start)
        margin = torch.where(taken, margin1, margin0)
    print(f"margins {margin0.tolist()} -> {margin1.tolist()}, taken {taken.tolist()}")
    out.update({"step.x": x.float(), "step.labels": y.int(), "step.stripes": stripes.float(),
                "step.start": start.float(), "step.margin0": margin0.float(), "step.rows": rows.int(),
                "step.cols": cols.int(), "step.signs": signs.float(), "step.delta": delta.float(),
                "step.margin": margin.float(), "step.taken": taken.to(torch.uint8)})
    out = {k: v.detach().numpy() for k, v in out.items()}
    path = os.path.join(out_dir, "square.safetensors")
    meta = {"generator": "scripts/gen_square_fixture.py", "eps": repr(EPS), "side": str(SIDE)}
    safetensors_py.save(path, out, meta)
    print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures")
