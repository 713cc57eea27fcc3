#!/usr/bin/python3
"""Independent checks of the data readers, computed with Python's standard
library only (gzip, struct), written to tests/fixtures/data_checks.txt.

Lines:
  count <dataset> <split> <n> <examples of class 0> <class 1> ...
  image <dataset> <split> <index> <label> <pixel sum> <k> then k times: <c> <y> <x> <value>
Images are (c, h, w) after the reader's conversion; indices are in file order.

Usage: /usr/bin/python3 scripts/gen_data_fixtures.py [fixture file]
Reads Fashion-MNIST from /usr/share/datasets/fashion-mnist and CIFAR-10 from
../shared/data/cifar10/cifar-10-batches-bin (skipped when absent)."""
import gzip
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FMNIST = "/usr/share/datasets/fashion-mnist"
CIFAR = os.path.join(HERE, "..", "..", "shared", "data", "cifar10", "cifar-10-batches-bin")


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    assert zero == 0 and dtype == 8
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return dims, data[4 + 4 * ndim:]


def fmnist(split):
    prefix = "train" if split == "train" else "t10k"
    dims, pixels = read_idx(os.path.join(FMNIST, prefix + "-images-idx3-ubyte.gz"))
    _, labels = read_idx(os.path.join(FMNIST, prefix + "-labels-idx1-ubyte.gz"))
    n, h, w = dims
    images = [pixels[i * h * w:(i + 1) * h * w] for i in range(n)]
    return images, list(labels), (1, h, w)


def cifar10(split):
    files = ["data_batch_%d.bin" % i for i in range(1, 6)] if split == "train" else ["test_batch.bin"]
    images, labels = [], []
    for name in files:
        with open(os.path.join(CIFAR, name), "rb") as f:
            data = f.read()
        for r in range(len(data) // 3073):
            rec = data[r * 3073:(r + 1) * 3073]
            labels.append(rec[0])
            images.append(rec[1:])
    return images, labels, (3, 32, 32)


def binary(data, grey):
    images, labels, (c, h, w) = data
    keep = [i for i, l in enumerate(labels) if l in (4, 8)]
    out_images = []
    for i in keep:
        img = images[i]
        if grey:  # mean over channels truncated to uint8
            plane = h * w
            img = bytes((img[p] + img[plane + p] + img[2 * plane + p]) // 3 for p in range(plane))
        out_images.append(img)
    return out_images, [1 if labels[i] == 8 else 0 for i in keep], (1 if grey else c, h, w)


def write_checks(out, name, split, data, indices, n_classes):
    images, labels, (c, h, w) = data
    counts = [labels.count(k) for k in range(n_classes)]
    out.append("count %s %s %d %s" % (name, split, len(images), " ".join(map(str, counts))))
    for i in indices:
        img = images[i]
        spots = [(0, 0, 0), (c - 1, h - 1, w - 1), (c // 2, 13, 17), (0, h - 1, 3), (c - 1, 5, w - 2)]
        pix = " ".join("%d %d %d %d" % (ch, y, x, img[(ch * h + y) * w + x]) for ch, y, x in spots)
        out.append("image %s %s %d %d %d %d %s" % (name, split, i, labels[i], sum(img), len(spots), pix))


def main():
    target = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "tests", "fixtures", "data_checks.txt")
    out = ["# Made by scripts/gen_data_fixtures.py (Python gzip/struct, independent of the C readers)."]
    for split, idx in (("train", [0, 1, 7777, 59999]), ("test", [0, 1, 5000, 9999])):
        write_checks(out, "fmnist", split, fmnist(split), idx, 10)
    if os.path.isdir(CIFAR):
        for split, idx in (("train", [0, 1, 9999, 10000, 31234, 49999]), ("test", [0, 1, 5000, 9999])):
            data = cifar10(split)
            write_checks(out, "cifar10", split, data, idx, 10)
            last = 9999 if split == "train" else 1999
            write_checks(out, "cifar10_binary", split, binary(data, False), [0, 1, 777, last], 2)
            write_checks(out, "cifar10_binary_gs", split, binary(data, True), [0, 1, 777, last], 2)
    with open(target, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
