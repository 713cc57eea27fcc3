#!/usr/bin/python3
"""A model trained (or only initialised) by PyTorch, saved as a plain safetensors state_dict.

    /usr/bin/python3 scripts/gen_torch_model.py OUT.safetensors [--arch=cnn] [--n_filters=16]
        [--train=fgsm_rs|clean|none] [--epochs=5] [--eps=8] [--seed=0] [--relabel=N --relabel_dir=DIR]

For the comparisons with PyTorch implementations of AutoAttack (bench/compare_autoattack.py,
docs/AUTOATTACK.md "Against the official code"): a model nobody's C code touched, saved with
safetensors.torch.save_file(model.state_dict()) and no metadata, so that `fastadv eval` reads it
as any PyTorch user's file (--model, --n_layers, --n_filters_cnn, --dataset). CIFAR-10 from the
binary batches of FASTADV_DATA (default ../shared/data; the cifar-10-batches-bin folder under it).

  --arch=cnn       scripts/fastadv_models.py's cnn, 1 layer of --n_filters 3x3 filters
  --arch=resnet18  PreAct ResNet-18
  --train=fgsm_rs  FGSM with a random start (Wong et al. 2020), eps --eps/255, step 1.25 eps,
                   Adam lr 1e-3, batch 128, --epochs over the 50,000 training images
  --train=clean    the same without the attack
  --train=none     PyTorch's initialisation; the BatchNorm statistics (ResNet-18) are then
                   estimated on 2,560 training images, so that the logits are not degenerate
  --relabel=N      also writes DIR/test_batch.bin: the first N test images labelled with the
                   model's own predictions, so that an attack's benchmark attacks all N of an
                   untrained model (read with FASTADV_CIFAR10_SUBSET=1 and --data_dir=DIR)
Prints the clean accuracy on the first 1,000 test images. Needs torch and safetensors (PyPI).
Python only generates this file; fastadv never needs it.
"""
import argparse
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fastadv_models  # noqa: E402

BATCH = 128


def cifar_dir():
    root = os.environ.get("FASTADV_DATA", os.path.join(HERE, "..", "..", "shared", "data"))
    for sub in ("cifar10/cifar-10-batches-bin", "cifar-10-batches-bin", "cifar10", ""):
        d = os.path.join(root, sub)
        if os.path.exists(os.path.join(d, "test_batch.bin")):
            return d
    sys.exit(f"gen_torch_model: no CIFAR-10 binary batches under {root} (set FASTADV_DATA)")


def cifar(names):
    """(x float32 (N, 3, 32, 32) in [0, 1], y int64 (N)) of CIFAR-10 binary batch files."""
    raw = np.concatenate([np.fromfile(os.path.join(cifar_dir(), n), dtype=np.uint8) for n in names])
    rec = raw.reshape(-1, 3073)
    x = torch.tensor(rec[:, 1:].reshape(-1, 3, 32, 32), dtype=torch.float32) / 255
    return x, torch.tensor(rec[:, 0].astype(np.int64))


def fgsm_rs(model, x, y, eps):
    delta = (torch.rand_like(x) * 2 - 1) * eps
    delta = (x + delta).clamp(0, 1) - x
    delta.requires_grad_(True)
    grad, = torch.autograd.grad(F.cross_entropy(model(x + delta), y), delta)
    delta = (delta + 1.25 * eps * grad.sign()).clamp(-eps, eps)
    return ((x + delta).clamp(0, 1) - x).detach()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out")
    p.add_argument("--arch", choices=("cnn", "resnet18"), default="cnn")
    p.add_argument("--n_filters", type=int, default=16)
    p.add_argument("--train", choices=("fgsm_rs", "clean", "none"), default="fgsm_rs")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--eps", type=float, default=8, help="in 1/255")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--relabel", type=int, default=0)
    p.add_argument("--relabel_dir", default="")
    args = p.parse_args()
    if args.relabel and not args.relabel_dir:
        p.error("--relabel needs --relabel_dir")
    torch.manual_seed(args.seed)
    model = fastadv_models.build({"arch": args.arch, "in_channels": 3, "height": 32, "width": 32,
                                  "n_classes": 10, "n_layers": 1, "n_filters": args.n_filters})
    x_train, y_train = cifar([f"data_batch_{i}.bin" for i in range(1, 6)])
    eps = args.eps / 255
    if args.train == "none":
        model.train()
        with torch.no_grad():
            for at in range(0, 2560, BATCH):
                model(x_train[at:at + BATCH])
    else:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        for epoch in range(args.epochs):
            model.train()
            order = torch.randperm(len(y_train))
            for at in range(0, len(order), BATCH):
                xb, yb = x_train[order[at:at + BATCH]], y_train[order[at:at + BATCH]]
                if args.train == "fgsm_rs":
                    xb = xb + fgsm_rs(model, xb, yb, eps)
                loss = F.cross_entropy(model(xb), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
            print(f"epoch {epoch + 1}: last batch loss {loss.item():.3f}", flush=True)
    model.eval()
    x_test, y_test = cifar(["test_batch.bin"])
    with torch.no_grad():
        acc = (model(x_test[:1000]).argmax(1) == y_test[:1000]).float().mean().item()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, args.out)
    if args.relabel:
        with torch.no_grad():
            pred = torch.cat([model(x_test[i:i + BATCH]).argmax(1) for i in range(0, args.relabel, BATCH)])
        rec = np.fromfile(os.path.join(cifar_dir(), "test_batch.bin"), dtype=np.uint8).reshape(-1, 3073)
        rec = rec[:args.relabel].copy()
        rec[:, 0] = pred[:args.relabel].numpy().astype(np.uint8)
        os.makedirs(args.relabel_dir, exist_ok=True)
        rec.tofile(os.path.join(args.relabel_dir, "test_batch.bin"))
        print(f"{args.relabel_dir}/test_batch.bin: the first {args.relabel} test images, labelled with the "
              f"model's predictions ({len(set(pred.tolist()))} classes among them)")
    print(f"{args.out}: {args.arch} ({args.n_filters} filters)" if args.arch == "cnn" else f"{args.out}: {args.arch}",
          f"trained {args.train} for {args.epochs if args.train != 'none' else 0} epochs; clean accuracy "
          f"{100 * acc:.2f}% on the first 1,000 test images (torch {torch.__version__})")


if __name__ == "__main__":
    main()
