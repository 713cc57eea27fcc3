#!/usr/bin/python3
"""PyTorch's own bfloat16 error on the training-step and GradAlign fixtures,
and the attack deltas the --half_prec tests take from the reference.

Run with Debian's python3-torch (1.13):
    /usr/bin/python3 scripts/gen_half_prec_fixture.py tests/fixtures

tests/test_half_prec.c computes in --half_prec's precision (core/context.h)
what two float64 references hold, and asserts relative errors (the tests'
sqrt(sum (a - r)^2 / sum r^2), the worst over parameter tensors) within
twice PyTorch's own under torch.autocast("cpu", dtype=torch.bfloat16).
This script measures PyTorch's: the same computations from the float64
weights rounded to float32, under autocast, against the same references:

- scripts/gen_step_fixtures.py (cnn, PreAct ResNet-18 width 4, batch 8,
  training mode): the parameter gradients of the "fgsm" case (CE at the
  FGSM delta) and of the "gradalign" case (CE + 0.2 (1 - mean cos(g1, g2)),
  g1 at delta0 = 0 through the clip, g2 at x + eta, both with create_graph).
  The delta and eta are the float64 reference's (a bfloat16 input gradient
  within rounding of zero would flip a sign of the step and move delta,
  which is not the error of the precision but of the attack's sign); they
  are stored in half_prec_step_<kind>.safetensors ("delta", "eta"), after
  checking that float64 gradients at them reproduce the step fixture's.
- scripts/gen_gradalign_fixture.py (ResNet-18 width 8, batch 4, the
  fixture's own delta and eta): g1, g2, cos, loss_ce, reg, the
  regulariser's and the total parameter gradients.

It prints each error; the test states them next to its bounds. With
"--check" it only prints them (no files written).
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_gradalign_fixture as ga_fix  # noqa: E402
import gen_step_fixtures as step_fix  # noqa: E402
import safetensors_py  # noqa: E402
from fixture_common import STREAM_ATTACK, Stream, fill_hashed  # noqa: E402
from fastadv_models import PreActResNet18  # noqa: E402

LAM = 0.2
AUTOCAST = dict(device_type="cpu", dtype=torch.bfloat16)


def rel_err(got, ref):
    got, ref = np.asarray(got, np.float64).ravel(), np.asarray(ref, np.float64).ravel()
    den = float(np.sum(ref * ref))
    num = float(np.sum((got - ref) ** 2))
    return np.sqrt(num / den) if den else np.sqrt(num)


def step_loss(model, x, y, delta, eta, lam):
    """The step's loss at a given delta (docs/METHOD.md section 4): CE(f(clip(x + delta))) [+ GradAlign]."""
    loss = F.cross_entropy(model(torch.clamp(x + delta, 0, 1)), y)
    if lam > 0:
        g1 = step_fix.input_grad(model, x, torch.zeros_like(x), y, True, True)
        g2 = step_fix.input_grad(model, x + eta, torch.zeros_like(x), y, False, True)
        g1, g2 = g1.float().flatten(1), g2.float().flatten(1)
        cos = (g1 / g1.norm(dim=1, keepdim=True) * (g2 / g2.norm(dim=1, keepdim=True))).sum(1)
        loss = loss + lam * (1.0 - cos.mean())
    return loss


def param_grads(model, loss):
    names = [n for n, _ in model.named_parameters()]
    grads = torch.autograd.grad(loss, [p for _, p in model.named_parameters()])
    return dict(zip(names, grads))


def worst_grad_err(grads, ref, prefix):
    return max(rel_err(g.detach().double().numpy(), ref[f"{prefix}{n}"]) for n, g in grads.items())


def step_case(kind, fixture, out_dir, write):
    ref, _ = safetensors_py.load(fixture)
    x64 = torch.tensor(ref["x"].astype(np.float64))
    y = torch.tensor(ref["labels"].astype(np.int64))
    model, _ = step_fix.make(kind)
    model.train()
    fill_hashed(model)
    g1 = step_fix.input_grad(model, x64, torch.zeros_like(x64), y, True, False)
    step_size = float(np.float32(np.float32(1.0) * np.float32(1.25)) * np.float32(step_fix.EPS))
    delta = step_fix.box(x64, torch.clamp(step_size * torch.sign(g1), -step_fix.EPS, step_fix.EPS)).detach()
    eta = torch.tensor(Stream(0, STREAM_ATTACK).uniform(x64.shape, -step_fix.EPS, step_fix.EPS).astype(np.float64))
    errs = {}
    for case, lam in (("fgsm", 0.0), ("gradalign", LAM)):
        model64, _ = step_fix.make(kind)
        model64.train()
        fill_hashed(model64)
        check = worst_grad_err(param_grads(model64, step_loss(model64, x64, y, delta, eta, lam)), ref,
                               f"{case}.grad.")
        assert check < 1e-6, f"{kind} {case}: float64 at the stored delta is {check:.2g} from the fixture"
        model32 = model64.float()
        fill_hashed(model32)
        with torch.autocast(**AUTOCAST):
            loss = step_loss(model32, x64.float(), y, delta.float(), eta.float(), lam)
        errs[case] = worst_grad_err(param_grads(model32, loss), ref, f"{case}.grad.")
        print(f"{kind} {case}: float64 check {check:.2g}; autocast worst parameter-gradient error {errs[case]:.3g}")
    if write:
        path = os.path.join(out_dir, f"half_prec_step_{kind}.safetensors")
        safetensors_py.save(path, {"delta": delta.float().numpy(), "eta": eta.float().numpy()},
                            {"generator": "scripts/gen_half_prec_fixture.py",
                             "autocast_fgsm": f"{errs['fgsm']:.3g}", "autocast_gradalign": f"{errs['gradalign']:.3g}",
                             "torch": torch.__version__})
        print(f"wrote {path}")


def gradalign_case(fixture):
    ref, meta = safetensors_py.load(fixture)
    model = PreActResNet18(3, 10, int(meta["width"])).float().train()
    fill_hashed(model)
    x, delta, eta = (torch.tensor(ref[k].astype(np.float32)) for k in ("x", "delta", "eta"))
    y = torch.tensor(ref["labels"].astype(np.int64))
    lam = float(meta["lambda"])
    with torch.autocast(**AUTOCAST):
        g1 = ga_fix.input_grad(model, x, y)
        loss_ce = F.cross_entropy(model(x + delta), y)
        g2 = ga_fix.input_grad(model, x + eta, y)
        cos = ga_fix.cos_per_example(g1.float(), g2.float())
        reg = lam * (1.0 - cos.mean())
    params = [p for _, p in model.named_parameters()]
    names = [n for n, _ in model.named_parameters()]
    grads_ce = torch.autograd.grad(loss_ce.float(), params, retain_graph=True)
    grads_reg = torch.autograd.grad(reg, params)
    errs = {k: rel_err(v.detach().float().numpy(), ref[k])
            for k, v in (("g1", g1), ("g2", g2), ("cos", cos), ("loss_ce", loss_ce), ("reg", reg))}
    errs["grad_reg"] = max(rel_err(g.numpy(), ref[f"grad_reg.{n}"]) for n, g in zip(names, grads_reg))
    errs["grad_total"] = max(rel_err((gc + gr).numpy(), ref[f"grad_ce.{n}"].astype(np.float64) + ref[f"grad_reg.{n}"])
                             for n, gc, gr in zip(names, grads_ce, grads_reg))
    print("gradalign_resnet18 autocast errors: " + ", ".join(f"{k} {v:.3g}" for k, v in errs.items()))


def main(argv):
    write = "--check" not in argv
    args = [a for a in argv[1:] if a != "--check"]
    out_dir = args[0] if args else "tests/fixtures"
    torch.manual_seed(0)
    print(f"torch {torch.__version__}")
    for kind in ("cnn", "resnet18"):
        step_case(kind, os.path.join(out_dir, f"step_{kind}.safetensors"), out_dir, write)
    gradalign_case(os.path.join(out_dir, "gradalign_resnet18.safetensors"))


if __name__ == "__main__":
    main(sys.argv)
