#!/usr/bin/python3
"""Checkpoint interop fixtures: PyTorch models converted to fastadv checkpoints.

    /usr/bin/python3 scripts/gen_ckpt_fixture.py tests/fixtures

Writes, through scripts/torch_to_safetensors.py (the user's path from a
PyTorch state_dict):
  ckpt_cnn4.safetensors        the paper's single-layer cnn, 4 filters, 3x32x32
  ckpt_resnet18w2.safetensors  PreAct ResNet-18 at width 2 (so the file is small),
                               random batch-norm statistics, num_batches_tracked 7
and ckpt_logits.safetensors with, for each model, 4 fixed images
"<model>.x_u8" (U8 pixels; the input is x_u8 / 255 in float32) and PyTorch's
evaluation-mode logits "<model>.logits", computed in float64 from the
float32 weights. tests/test_checkpoint.c loads the
checkpoints in C and compares its logits with these.
"""
import os
import subprocess
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fastadv_models  # noqa: E402
import safetensors_py  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = {
    "cnn4": ({"arch": "cnn", "in_channels": 3, "height": 32, "width": 32, "n_classes": 10, "n_layers": 1,
              "n_filters": 4, "resnet_width": 64}, ["--n_layers", "1", "--n_filters", "4"]),
    "resnet18w2": ({"arch": "resnet18", "in_channels": 3, "height": 32, "width": 32, "n_classes": 10,
                    "n_layers": 1, "n_filters": 16, "resnet_width": 2}, ["--resnet_width", "2"]),
}


def randomise(model, gen):
    """Every parameter and statistic random, so a misplaced tensor shows."""
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                t.fill_(7)
            elif name.endswith("running_var") or (name.endswith(".weight") and t.dim() == 1):
                t.copy_(0.5 + torch.rand(t.shape, generator=gen))
            elif t.dim() > 1:
                t.copy_(torch.randn(t.shape, generator=gen) * (2.0 / t[0].numel()) ** 0.5)
            else:
                t.copy_(0.1 * torch.randn(t.shape, generator=gen))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "tests", "fixtures")
    gen = torch.Generator().manual_seed(20200612)
    logits = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (config, flags) in MODELS.items():
            model = fastadv_models.build(config)
            randomise(model, gen)
            pt = os.path.join(tmp, f"{name}.pt")
            torch.save(model.state_dict(), pt)
            ckpt = os.path.join(out, f"ckpt_{name}.safetensors")
            subprocess.run([sys.executable, os.path.join(HERE, "torch_to_safetensors.py"), pt, ckpt,
                            "--arch", config["arch"], "--dataset", "cifar10", *flags,
                            "--meta", "epoch=3", "--meta", "iteration=1170"], check=True)
            x_u8 = torch.randint(0, 256, (4, 3, 32, 32), generator=gen, dtype=torch.uint8)
            x = x_u8.float() / 255  # as the C test computes it
            model.double().eval()
            with torch.no_grad():
                logits[f"{name}.x_u8"] = x_u8.numpy()
                logits[f"{name}.logits"] = model(x.double()).numpy()
    safetensors_py.save(os.path.join(out, "ckpt_logits.safetensors"), logits)
    print(f"wrote the checkpoint fixtures to {out}")


if __name__ == "__main__":
    main()
