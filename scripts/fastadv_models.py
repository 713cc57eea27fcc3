"""fastadv's models in PyTorch, and reading and writing fastadv checkpoints.

The modules follow docs/METHOD.md section 2 and carry the state_dict names of
fastadv checkpoints (src/train/checkpoint.h), so a checkpoint loads with
`load_state_dict(..., strict=True)`:

    PreActResNet18  conv1, layer{1..4}.{0,1}.{bn1,conv1,bn2,conv2,shortcut.0}, linear
    CNN             _model: [Conv2d 3x3, ReLU] * n_layers, Flatten, Linear
    LeNet           _model: Conv 5x5, ReLU, MaxPool, Conv 5x5, ReLU, MaxPool,
                    Flatten, Linear 1024, ReLU, Linear

A checkpoint's metadata describes the model (CONFIG_KEYS); `extra_prefixes`
lists the prefixes of extra stores (optimiser state) that are not part of
the model and are skipped here. Needs torch and numpy (Debian's
python3-torch); files are read and written by scripts/safetensors_py.py.
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_py  # noqa: E402

ARCHS = ("resnet18", "cnn", "lenet")
CONFIG_KEYS = ("arch", "in_channels", "height", "width", "n_classes", "n_layers", "n_filters", "resnet_width")
INT_KEYS = CONFIG_KEYS[1:]
CHECKPOINT_VERSION = "1"

# name -> (in_channels, height, width, n_classes), docs/METHOD.md section 1
DATASETS = {
    "cifar10": (3, 32, 32, 10),
    "svhn": (3, 32, 32, 10),
    "mnist": (1, 28, 28, 10),
    "fmnist": (1, 28, 28, 10),
    "cifar10_binary": (3, 32, 32, 2),
    "cifar10_binary_gs": (1, 32, 32, 2),
}


class PreActBlock(nn.Module):
    def __init__(self, inp, planes, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inp)
        self.conv1 = nn.Conv2d(inp, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        if stride != 1 or inp != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(inp, planes, 1, stride, bias=False))

    def forward(self, x):
        out = self.conv1(F.relu(self.bn1(x)))
        out = self.conv2(F.relu(self.bn2(out)))
        return out + (self.shortcut(x) if hasattr(self, "shortcut") else x)


class PreActResNet18(nn.Module):
    def __init__(self, in_channels, n_classes, width=64):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
        inp = width
        for stage in range(4):
            planes, blocks = width << stage, []
            for j in range(2):
                blocks.append(PreActBlock(inp, planes, 2 if (j == 0 and stage > 0) else 1))
                inp = planes
            setattr(self, f"layer{stage + 1}", nn.Sequential(*blocks))
        self.linear = nn.Linear(8 * width, n_classes)

    def forward(self, x):
        out = self.conv1(x)
        for stage in range(4):
            out = getattr(self, f"layer{stage + 1}")(out)
        return self.linear(F.avg_pool2d(out, 4).flatten(1))


class CNN(nn.Module):
    def __init__(self, in_channels, height, width, n_classes, n_layers, n_filters):
        super().__init__()
        layers = []
        for i in range(n_layers):
            layers += [nn.Conv2d(in_channels if i == 0 else n_filters, n_filters, 3, 1, 1), nn.ReLU()]
        self._model = nn.Sequential(*layers, nn.Flatten(), nn.Linear(n_filters * height * width, n_classes))

    def forward(self, x):
        return self._model(x)


class LeNet(nn.Module):
    def __init__(self, in_channels, height, width, n_classes):
        super().__init__()
        self._model = nn.Sequential(
            nn.Conv2d(in_channels, 32, 5, 1, 2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5, 1, 2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * (height // 4) * (width // 4), 1024), nn.ReLU(),
            nn.Linear(1024, n_classes))

    def forward(self, x):
        return self._model(x)


def build(config):
    """A model from a config dict (CONFIG_KEYS, integers except arch)."""
    c = config
    if c["arch"] == "resnet18":
        return PreActResNet18(c["in_channels"], c["n_classes"], c.get("resnet_width") or 64)
    if c["arch"] == "cnn":
        return CNN(c["in_channels"], c["height"], c["width"], c["n_classes"], c["n_layers"], c["n_filters"])
    if c["arch"] == "lenet":
        return LeNet(c["in_channels"], c["height"], c["width"], c["n_classes"])
    raise ValueError(f"unknown architecture {c['arch']!r}; fastadv knows {', '.join(ARCHS)}")


def config_from_metadata(meta, what):
    if meta.get("arch") not in ARCHS:
        raise ValueError(f"{what}: metadata 'arch' is {meta.get('arch')!r}, not one of {', '.join(ARCHS)}; "
                         "convert PyTorch state_dicts with scripts/torch_to_safetensors.py")
    config = {"arch": meta["arch"]}
    for key in INT_KEYS:
        try:
            config[key] = int(meta[key])
        except (KeyError, ValueError):
            raise ValueError(f"{what}: metadata {key!r} is missing or not an integer ({meta.get(key)!r})")
    return config


def metadata_for(config, extra=None):
    """The checkpoint metadata of a config, plus `extra` (str -> str)."""
    meta = {"checkpoint_version": CHECKPOINT_VERSION, "extra_prefixes": ""}
    meta.update({k: str(config[k]) for k in CONFIG_KEYS})
    for k, v in (extra or {}).items():
        if k in meta:
            raise ValueError(f"metadata key {k!r} is written from the model config; do not pass it")
        meta[k] = str(v)
    return meta


def model_tensors(state_dict, extra_prefixes):
    """The model's part of a checkpoint: names of extra stores dropped,
    floating tensors as float32 torch tensors."""
    out = {}
    for name, a in state_dict.items():
        if any(p and name.startswith(p) for p in extra_prefixes):
            continue
        t = torch.from_numpy(np.array(a))  # a writable copy
        out[name] = t.float() if t.is_floating_point() else t
    return out


def load_checkpoint(path):
    """(model with the checkpoint loaded strictly, config, metadata)."""
    tensors, meta = safetensors_py.load(path)
    config = config_from_metadata(meta, path)
    model = build(config)
    state = model_tensors(tensors, meta.get("extra_prefixes", "").split(","))
    model.load_state_dict(state, strict=True)
    return model, config, meta


def save_checkpoint(path, model, config, extra_meta=None):
    """Writes `model`'s state_dict as a fastadv checkpoint: floating tensors
    as F32, num_batches_tracked as I64 scalars."""
    arrays = {}
    for name, t in model.state_dict().items():
        t = t.detach().cpu()
        arrays[name] = (t.float() if t.is_floating_point() else t).numpy()
    safetensors_py.save(path, arrays, metadata_for(config, extra_meta))
