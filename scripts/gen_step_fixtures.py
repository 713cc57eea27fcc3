#!/usr/bin/python3
"""PyTorch float64 references for one training step of every attack type.

Run with Debian's python3-torch:  /usr/bin/python3 scripts/gen_step_fixtures.py tests/fixtures

For the cnn (1 layer, 4 filters, Adam) and PreAct ResNet-18 (width 4, SGD
with momentum) in training mode, from hashed weights (fixture_common), one
batch of 8 and fastadv's own attack noise (the Philox stream of seed 0,
reproduced in fixture_common), it runs the paper's training step
(docs/METHOD.md section 4) as src/train/step.c does, then the optimiser step, and
stores per attack the parameter gradients, the updated parameters and the
running statistics:  "<attack>.grad.<param>", "<attack>.param.<param>",
"<attack>.buffer.<name>". Attacks: fgsm (zero init), fgsm_rs (random init),
pgd (random init; 3 steps for the cnn, 1 for ResNet-18, the "pgd_iters"
metadata: on the width-4 ResNet, from the second step on, float32 rounding
decides some signs of the steps; fastadv's unoptimised and optimised
builds, whose sums round differently, were 5e-7 apart in the parameter
gradients after one step, 2e-3 after two and 1e-2 after three), free (minibatch replay 2: two iterations on
the batch, the perturbation carried), gradalign (fgsm zero init + lambda 0.2),
nfgsm (N-FGSM, docs/LATER_METHODS.md: noise in [-2 eps, 2 eps] into the box, a step
of 1 eps, no projection onto the ball), nfgsm_clip (the same, projected),
fgsm_elle (fgsm zero init + ELLE, lambda ELLE_LAMBDA: x_a, x_b and t from the
attack stream after the attack's draws, the 3N points through the model in
one batch; "fgsm_elle.penalty" holds the penalty) and gradalign_elle
(gradalign + ELLE: both terms).
It also stores the evaluation PGD with restarts (docs/METHOD.md section 5; model
in evaluation mode, 5 steps of eps/4, 3 restarts from the FA_STREAM_EVAL
stream of seed 0): the chosen delta and its loss per example,
"pgd_restarts.delta" and "pgd_restarts.loss".
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_py  # noqa: E402
from fixture_common import STREAM_ATTACK, STREAM_EVAL, Stream, fill_hashed  # noqa: E402
from fastadv_models import CNN, PreActResNet18  # noqa: E402

torch.set_default_dtype(torch.float64)
f32 = np.float32
EPS = float(f32(8) / f32(255))
ALPHA_PGD = float(f32(2) / f32(255))
NFGSM_K = 2.0
ELLE_LAMBDA = 1000.0
ATTACKS = {
    "fgsm": dict(attack="fgsm", init="zero", m=1, lam=0.0),
    "fgsm_rs": dict(attack="fgsm", init="random", m=1, lam=0.0),
    "pgd": dict(attack="pgd", init="random", m=1, lam=0.0),
    "free": dict(attack="fgsm", init="zero", m=2, lam=0.0),
    "gradalign": dict(attack="fgsm", init="zero", m=1, lam=0.2),
    "nfgsm": dict(attack="nfgsm", init="random", m=1, lam=0.0, clip=False),
    "nfgsm_clip": dict(attack="nfgsm", init="random", m=1, lam=0.0, clip=True),
    "fgsm_elle": dict(attack="fgsm", init="zero", m=1, lam=0.0, elle=ELLE_LAMBDA),
    "gradalign_elle": dict(attack="fgsm", init="zero", m=1, lam=0.2, elle=ELLE_LAMBDA),
}


def input_grad(model, x, delta, y, clip, create_graph):
    d = delta.clone().requires_grad_(True)
    inp = torch.clamp(x + d, 0, 1) if clip else x + d
    loss = F.cross_entropy(model(inp), y)
    return torch.autograd.grad(loss, d, create_graph=create_graph)[0]


def box(x, delta):
    return torch.clamp(x + delta, 0, 1) - x


def elle_penalty(model, x, y, stream):
    """ELLE's penalty as src/adv/elle.c: x_a, x_b uniform in the ball and the box, x_c between them."""
    n = x.shape[0]
    xa = torch.clamp(x + torch.tensor(stream.uniform(x.shape, -EPS, EPS).astype(np.float64)), 0, 1)
    xb = torch.clamp(x + torch.tensor(stream.uniform(x.shape, -EPS, EPS).astype(np.float64)), 0, 1)
    t = torch.tensor(stream.uniform((n,), 0, 1).astype(np.float64))
    tt = t.view(n, 1, 1, 1)
    xc = (1 - tt) * xa + tt * xb
    losses = F.cross_entropy(model(torch.cat((xa, xb, xc))), y.repeat(3), reduction="none")
    la, lb, lc = losses[:n], losses[n:2 * n], losses[2 * n:]
    return ((lc - (1 - t) * la - t * lb) ** 2).mean()


def step(model, opt, lr, x, y, a, stream, carried, pgd_iters):
    """One training step as src/train/step.c; returns the carried delta (Free), the gradients and ELLE's penalty."""
    ga = a["lam"] > 0
    if a["attack"] == "nfgsm":
        radius = float(f32(NFGSM_K) * f32(EPS))
        eta = box(x, torch.tensor(stream.uniform(x.shape, -radius, radius).astype(np.float64)))
        g1 = input_grad(model, x, eta, y, True, ga)
        delta = eta + float(f32(1.0) * f32(EPS)) * torch.sign(g1.detach())
        if a["clip"]:
            delta = torch.clamp(delta, -EPS, EPS)
        delta = box(x, delta)
    elif a["attack"] == "fgsm":
        if a["m"] > 1:
            delta0 = carried
        elif a["init"] == "random":
            delta0 = torch.tensor(stream.uniform(x.shape, -EPS, EPS).astype(np.float64))
        else:
            delta0 = torch.zeros_like(x)
        g1 = input_grad(model, x, delta0, y, True, ga)
        step_size = float(f32(f32(1.0) * f32(1.25)) * f32(EPS))
        delta = torch.clamp(delta0 + step_size * torch.sign(g1.detach()), -EPS, EPS)
        delta = box(x, delta)
        carried = delta
    else:  # pgd, random start put into the box
        delta = box(x, torch.tensor(stream.uniform(x.shape, -EPS, EPS).astype(np.float64)))
        for _ in range(pgd_iters):
            g = input_grad(model, x, delta, y, False, False)
            delta = torch.clamp(box(x, delta + ALPHA_PGD * torch.sign(g)), -EPS, EPS)
        g1 = input_grad(model, x, torch.zeros_like(x), y, True, ga)
    loss = F.cross_entropy(model(torch.clamp(x + delta, 0, 1)), y)
    if ga:
        eta = torch.tensor(stream.uniform(x.shape, -EPS, EPS).astype(np.float64))
        g2 = input_grad(model, x + eta, torch.zeros_like(x), y, False, True)
        keep = (g1.flatten(1).norm(dim=1) != 0) & (g2.flatten(1).norm(dim=1) != 0)
        a1, a2 = g1[keep].flatten(1), g2[keep].flatten(1)
        cos = (a1 / a1.norm(dim=1, keepdim=True) * (a2 / a2.norm(dim=1, keepdim=True))).sum(1)
        loss = loss + a["lam"] * (1.0 - cos.mean())
    penalty = None
    if a.get("elle"):
        penalty = elle_penalty(model, x, y, stream)
        loss = loss + a["elle"] * penalty
    opt.zero_grad()
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
    opt.step()
    return carried, grads, penalty


def pgd_restarts(model, x, y, eps, alpha, n_iter, n_restarts, stream):
    """The evaluation PGD: restart r starts from run r of each example's own stream (fa_pgd_restarts, the
    examples indexed 0..N-1); each example keeps the delta of highest loss, a later restart winning a tie."""
    best = torch.zeros_like(x)
    best_loss = torch.full((x.shape[0],), -1.0)
    for r in range(n_restarts):
        delta = box(x, torch.tensor(stream.uniform_per_example(x.shape, -eps, eps, r).astype(np.float64)))
        for _ in range(n_iter):
            g = input_grad(model, x, delta, y, False, False)
            delta = torch.clamp(box(x, delta + alpha * torch.sign(g)), -eps, eps)
        with torch.no_grad():
            loss = F.cross_entropy(model(x + delta), y, reduction="none")
        wins = loss >= best_loss
        best[wins], best_loss[wins] = delta[wins], loss[wins]
    return best, best_loss


def make(kind):
    if kind == "cnn":
        return CNN(1, 28, 28, 10, 1, 4), (8, 1, 28, 28)
    return PreActResNet18(3, 10, 4), (8, 3, 32, 32)


def main(out_dir):
    rng = np.random.default_rng(7)
    for kind, lr, pgd_iters in (("cnn", 0.003, 3), ("resnet18", 0.05, 1)):
        out = {}
        _, shape = make(kind)
        x = torch.tensor(rng.uniform(0, 1, shape).astype(np.float32).astype(np.float64))
        y = torch.tensor(rng.integers(0, 10, shape[0]), dtype=torch.int64)
        out["x"], out["labels"] = x, y
        for name, a in ATTACKS.items():
            model, _ = make(kind)
            model.train()
            fill_hashed(model)
            if kind == "cnn":
                opt = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=5e-4)
            else:
                opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
            stream = Stream(0, STREAM_ATTACK)
            carried = torch.zeros_like(x)
            for _ in range(a["m"]):
                carried, grads, penalty = step(model, opt, lr, x, y, a, stream, carried, pgd_iters)
            if penalty is not None:
                out[f"{name}.penalty"] = penalty.detach().reshape(1).float()
            for n, p in model.named_parameters():
                out[f"{name}.grad.{n}"] = grads[n].float()
                out[f"{name}.param.{n}"] = p.detach().float()
            for n, b in model.named_buffers():
                if "running" in n:
                    out[f"{name}.buffer.{n}"] = b.float()
        model, _ = make(kind)
        fill_hashed(model)
        model.eval()
        alpha = float(f32(EPS) / f32(4))
        delta, loss = pgd_restarts(model, x, y, EPS, alpha, 5, 3, Stream(0, STREAM_EVAL))
        out["pgd_restarts.delta"], out["pgd_restarts.loss"] = delta.float(), loss.float()
        out = {k: v.detach().numpy() for k, v in out.items()}
        path = os.path.join(out_dir, f"step_{kind}.safetensors")
        meta = {"generator": "scripts/gen_step_fixtures.py", "lr": repr(lr), "pgd_iters": str(pgd_iters)}
        safetensors_py.save(path, out, meta)
        print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures")
