#!/usr/bin/python3
"""The PyTorch peer of bench/bench_step.c: the same configurations, written
from docs/METHOD.md sections 4 and 5, printed as the same JSON line.

    usage: bench_step_torch.py MODEL WORKLOAD [reps] [warmup] [batch] [precision]
      MODEL     cnn (1 layer of 4 filters) | resnet18 (PreAct), 3x32x32, 10 classes
      WORKLOAD  fgsm | gradalign | pgd10 | pgdI-R   (see bench/bench_step.c)
      precision f32 | bf16: the step (or the evaluation) under
                torch.autocast("cpu", dtype=torch.bfloat16), what a PyTorch
                user turns on for bfloat16 on a CPU (autocast leaves the
                optimiser's float32 updates alone)

Training mode throughout a training step (attack and regulariser included);
FGSM with zero init, alpha 1.25, the clamp to the eps-ball and the clip to
the box; GradAlign (lambda 0.2) with double backpropagation through both
input gradients; PGD-10 from a random start with alpha 2/255, plus the
input gradient at X that docs/METHOD.md (section 4) asks of attacks other than FGSM; the
evaluation PGD in eval mode with restarts, keeping the delta of the highest
loss, then the clean and adversarial forward passes. float32 (or autocast), threads from
OMP_NUM_THREADS (torch.set_num_threads). Peak memory: ru_maxrss.
Needs Debian's python3-torch; the models are scripts/fastadv_models.py.
"""
import json
import os
import re
import resource
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
import fastadv_models  # noqa: E402

EPS = 8 / 255


def clip(x):
    return torch.clamp(x, 0.0, 1.0)


def input_grad(model, x, delta, y, clip_input, create_graph):
    """d CE(model(x + delta)) / d delta."""
    delta = delta.detach().requires_grad_(True)
    inp = x + delta
    loss = F.cross_entropy(model(clip(inp) if clip_input else inp), y)
    return torch.autograd.grad(loss, delta, create_graph=create_graph)[0]


def grad_align_reg(g1, g2, lam):
    g1, g2 = g1.flatten(1), g2.flatten(1)
    keep = (g1.norm(dim=1) != 0) & (g2.norm(dim=1) != 0)
    cos = F.cosine_similarity(g1[keep], g2[keep], dim=1)
    return lam * (1.0 - cos.mean())


def train_step(model, opt, x, y, workload):
    grad_align = workload == "gradalign"
    if workload == "pgd10":
        delta = clip(x + torch.empty_like(x).uniform_(-EPS, EPS)) - x
        for _ in range(10):
            g = input_grad(model, x, delta, y, False, False)
            delta = delta + 2 / 255 * g.sign()
            delta = torch.clamp(clip(x + delta) - x, -EPS, EPS)
        g1 = input_grad(model, x, torch.zeros_like(x), y, True, False)
    else:
        delta0 = torch.zeros_like(x)
        g1 = input_grad(model, x, delta0, y, True, grad_align)
        delta = torch.clamp(delta0 + 1.25 * EPS * g1.sign(), -EPS, EPS)
        delta = clip(x + delta) - x
    delta = delta.detach()
    loss = F.cross_entropy(model(clip(x + delta)), y)
    if grad_align:
        eta = torch.empty_like(x).uniform_(-EPS, EPS)
        g2 = input_grad(model, x, eta, y, False, True)
        loss = loss + grad_align_reg(g1, g2, 0.2)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def evaluate(model, x, y, n_iter, restarts):
    best = torch.zeros_like(x)
    best_loss = torch.full((x.shape[0],), -1.0)
    for _ in range(restarts):
        delta = clip(x + torch.empty_like(x).uniform_(-EPS, EPS)) - x
        for _ in range(n_iter):
            g = input_grad(model, x, delta, y, False, False)
            delta = delta + EPS / 4 * g.sign()
            delta = torch.clamp(clip(x + delta) - x, -EPS, EPS)
        with torch.no_grad():
            loss = F.cross_entropy(model(x + delta), y, reduction="none")
            won = loss >= best_loss
            best_loss = torch.where(won, loss, best_loss)
            best[won] = delta[won]
    with torch.no_grad():
        model(x)
        model(x + best)


def autocast_run(autocast, run):
    with autocast:
        run()


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    arch, workload = argv[1], argv[2]
    reps = int(argv[3]) if len(argv) > 3 else 5
    warmup = int(argv[4]) if len(argv) > 4 else 1
    batch = int(argv[5]) if len(argv) > 5 else 128
    threads = int(os.environ.get("OMP_NUM_THREADS", "2"))
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = fastadv_models.build({"arch": arch, "in_channels": 3, "height": 32, "width": 32, "n_classes": 10,
                                  "n_layers": 1, "n_filters": 4, "resnet_width": 64})
    opt = (torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=5e-4) if arch == "cnn"
           else torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=5e-4))
    x = torch.rand(batch, 3, 32, 32)
    y = torch.arange(batch) % 10
    precision = argv[6] if len(argv) > 6 else "f32"
    if precision not in ("f32", "bf16"):
        sys.exit(f"bench_step_torch.py: unknown precision {precision!r}")
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")
    m = re.fullmatch(r"pgd(\d+)-(\d+)", workload)
    if m:
        model.eval()
        run = lambda: evaluate(model, x, y, int(m.group(1)), int(m.group(2)))  # noqa: E731
    elif workload in ("fgsm", "gradalign", "pgd10"):
        model.train()
        run = lambda: train_step(model, opt, x, y, workload)  # noqa: E731
    else:
        sys.exit(f"bench_step_torch.py: unknown workload {workload!r}")
    if precision == "bf16":
        plain = run
        run = lambda: autocast_run(autocast, plain)  # noqa: E731
    for _ in range(warmup):
        run()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    times.sort()
    sec = times[reps // 2] if reps % 2 else 0.5 * (times[reps // 2 - 1] + times[reps // 2])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"impl": "pytorch", "model": arch, "workload": workload, "precision": precision, "batch": batch, "threads": threads,
                      "reps": reps, "seconds": round(sec, 6), "img_per_s": round(batch / sec, 3),
                      "peak_rss_mib": round(peak, 1), "torch": torch.__version__}))


if __name__ == "__main__":
    main(sys.argv)
