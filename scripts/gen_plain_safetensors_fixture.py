#!/usr/bin/python3
"""A model file as PyTorch users write it, for `fastadv eval` without metadata.

    /usr/bin/python3 scripts/gen_plain_safetensors_fixture.py tests/fixtures

Builds the cnn of scripts/fastadv_models.py (1 layer, 4 filters, Fashion-MNIST's
1x28x28 inputs, 10 classes), seeded, trains it for 60 Adam steps on the first
1,920 Fashion-MNIST training images so that its predictions mean something,
and writes, with the PyPI `safetensors` package:
  plain_cnn4_fmnist.safetensors           safetensors.torch.save_file(model.state_dict(), path):
                                          the seed's parameter names, no metadata
  plain_cnn4_fmnist_expected.safetensors  PyTorch's evaluation on the first N_TEST
                                          Fashion-MNIST test images (x_u8 / 255 in float32):
                                          "labels" (I64, the true labels), "predicted" (I64,
                                          argmax of the logits), "margins" (F32, top logit minus
                                          the runner-up), "logits" (F32, N_TEST x 10)
tests/test_eval_plain.c evaluates the first file through fastadv's loader with
--model=cnn --n_filters_cnn=4 and compares its predictions with these.
Needs torch (Debian's python3-torch) and safetensors (PyPI); the images are read
from /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist).
"""
import gzip
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fastadv_models  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FMNIST = "/usr/share/datasets/fashion-mnist"
N_FILTERS = 4
N_TRAIN, BATCH, STEPS = 1920, 32, 60
N_TEST = 256


def idx(name, n, image):
    """The first n images (n, 1, 28, 28) uint8 or labels (n,) of an IDX file."""
    with gzip.open(os.path.join(FMNIST, name)) as f:
        data = f.read()
    skip = 16 if image else 8
    x = np.frombuffer(data, dtype=np.uint8, count=n * (784 if image else 1), offset=skip)
    return x.reshape(n, 1, 28, 28) if image else x.astype(np.int64)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "tests", "fixtures")
    torch.manual_seed(20200612)
    config = {"arch": "cnn", "in_channels": 1, "height": 28, "width": 28, "n_classes": 10, "n_layers": 1,
              "n_filters": N_FILTERS}
    model = fastadv_models.build(config)
    x_train = torch.tensor(idx("train-images-idx3-ubyte.gz", N_TRAIN, True), dtype=torch.float32) / 255
    y_train = torch.tensor(idx("train-labels-idx1-ubyte.gz", N_TRAIN, False))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for step in range(STEPS):
        at = (step * BATCH) % N_TRAIN
        loss = F.cross_entropy(model(x_train[at:at + BATCH]), y_train[at:at + BATCH])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    x_u8 = idx("t10k-images-idx3-ubyte.gz", N_TEST, True)
    labels = torch.tensor(idx("t10k-labels-idx1-ubyte.gz", N_TEST, False))
    with torch.no_grad():
        logits = model(torch.tensor(x_u8, dtype=torch.float32) / 255)
    top2 = logits.topk(2, dim=1).values
    predicted = logits.argmax(dim=1)
    save_file(model.state_dict(), os.path.join(out, "plain_cnn4_fmnist.safetensors"))
    save_file({"labels": labels, "predicted": predicted, "margins": (top2[:, 0] - top2[:, 1]).contiguous(),
               "logits": logits.contiguous()}, os.path.join(out, "plain_cnn4_fmnist_expected.safetensors"))
    acc = (predicted == labels).float().mean().item()
    print(f"plain cnn ({N_FILTERS} filters): {', '.join(model.state_dict())}; accuracy {100 * acc:.2f}% on the "
          f"first {N_TEST} test images; smallest margin {(top2[:, 0] - top2[:, 1]).min().item():.2e}")


if __name__ == "__main__":
    main()
