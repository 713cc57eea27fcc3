#!/usr/bin/python3
"""Loads a fastadv checkpoint into PyTorch (strict=True) and evaluates it.

    /usr/bin/python3 scripts/load_in_pytorch.py CHECKPOINT.safetensors [--data FILE] [--n 256]

The model is rebuilt from the checkpoint's metadata with the modules of
scripts/fastadv_models.py and loaded by name with strict=True: every name
and shape must match PyTorch's state_dict. It then prints the clean
accuracy (evaluation mode) on the first --n examples of --data:
  - a CIFAR-10 binary batch (data_batch_*.bin, test_batch.bin),
  - an MNIST / Fashion-MNIST IDX image file (*-images-idx3-ubyte[.gz]; the
    labels file beside it, *-labels-idx1-ubyte[.gz]),
  - a safetensors file with "x" (N, C, H, W) in [0, 1] and optionally "y"
    (N) and "logits" (N, classes): with --compare-logits, PyTorch's logits
    are compared with the stored ones (relative error of the whole array,
    exit status 1 above --tol),
or, without --data, on --n random inputs (predictions only).
Exit status: 0 on success, 1 when the checkpoint does not load or the
logits differ, 2 on bad arguments.
"""
import argparse
import gzip
import os
import re
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fastadv_models  # noqa: E402
import safetensors_py  # noqa: E402


def fail(msg):
    print(f"load_in_pytorch: {msg}", file=sys.stderr)
    sys.exit(1)


def read_cifar10_bin(path, n):
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % 3073:
        fail(f"{path}: {raw.size} bytes is not a whole number of 3073-byte CIFAR-10 records")
    rec = raw.reshape(-1, 3073)[:n]
    return rec[:, 1:].reshape(-1, 3, 32, 32).astype(np.float32) / 255, rec[:, 0].astype(np.int64)


def read_idx(path, magic):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8 or int.from_bytes(raw[:4], "big") != magic:
        fail(f"{path}: not an IDX file with magic {magic:#x}")
    ndim = magic & 0xFF
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        fail(f"{path}: {data.size} bytes of data for dimensions {dims}")
    return data.reshape(dims)


def read_data(path, n):
    """(x float32 (N, C, H, W), y int64 (N) or None, stored logits or None)."""
    if path.endswith(".safetensors"):
        t, _ = safetensors_py.load(path)
        if "x" not in t:
            fail(f"{path} has no tensor 'x' (N, C, H, W)")
        get = lambda k: np.array(t[k])[:n] if k in t else None  # noqa: E731
        return get("x").astype(np.float32), get("y"), get("logits")
    if path.endswith(".bin"):
        x, y = read_cifar10_bin(path, n)
        return x, y, None
    if re.search(r"images-idx3-ubyte(\.gz)?$", path):
        x = read_idx(path, 0x803)[:n].astype(np.float32)[:, None] / 255
        labels = path.replace("images-idx3", "labels-idx1")
        y = read_idx(labels, 0x801)[:n].astype(np.int64) if os.path.exists(labels) else None
        return x, y, None
    fail(f"{path}: give a CIFAR-10 .bin batch, an *-images-idx3-ubyte[.gz] file or a .safetensors file with 'x'")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint")
    p.add_argument("--data", help="evaluation data (see above); random inputs when absent")
    p.add_argument("--n", type=int, default=256, help="examples to evaluate (default 256)")
    p.add_argument("--batch_size", type=int, default=256)
    p.add_argument("--seed", type=int, default=0, help="for the random inputs")
    p.add_argument("--compare-logits", action="store_true", help="compare with the data file's 'logits'")
    p.add_argument("--tol", type=float, default=1e-5, help="relative error allowed by --compare-logits")
    args = p.parse_args()
    if args.n < 1 or args.batch_size < 1:
        p.error("--n and --batch_size must be positive")

    try:
        model, config, meta = fastadv_models.load_checkpoint(args.checkpoint)
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        fail(f"cannot load {args.checkpoint} into PyTorch: {e}")
    n_tensors = len(model.state_dict())
    print(f"loaded {args.checkpoint} with strict=True: {config['arch']}, {n_tensors} tensors, "
          f"{config['in_channels']}x{config['height']}x{config['width']}, {config['n_classes']} classes")
    model.eval()

    if args.data:
        x, y, stored = read_data(args.data, args.n)
    else:
        g = torch.Generator().manual_seed(args.seed)
        x = torch.rand(args.n, config["in_channels"], config["height"], config["width"], generator=g).numpy()
        y, stored = None, None
    want = (config["in_channels"], config["height"], config["width"])
    if x.ndim != 4 or tuple(x.shape[1:]) != want:
        fail(f"the data has shape {x.shape}; the model takes (N, {want[0]}, {want[1]}, {want[2]})")
    with torch.no_grad():
        logits = torch.cat([model(torch.from_numpy(x[i:i + args.batch_size]))
                            for i in range(0, len(x), args.batch_size)]).double().numpy()
    pred = logits.argmax(1)
    if y is not None:
        print(f"clean accuracy: {100 * np.mean(pred == y):.2f}% on {len(x)} examples")
    else:
        print(f"predictions on {len(x)} inputs: {np.bincount(pred, minlength=config['n_classes']).tolist()}")
    if args.compare_logits:
        if stored is None:
            fail(f"--compare-logits: {args.data or 'random inputs'} holds no 'logits'")
        stored = stored.astype(np.float64)
        err = np.linalg.norm(logits - stored) / max(np.linalg.norm(stored), 1e-30)
        print(f"logits: relative error {err:.3g} against the stored ones (tolerance {args.tol:g})")
        if not err <= args.tol:
            sys.exit(1)


if __name__ == "__main__":
    main()
