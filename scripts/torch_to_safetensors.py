#!/usr/bin/python3
"""Converts a PyTorch state_dict to a fastadv checkpoint (safetensors).

    /usr/bin/python3 scripts/torch_to_safetensors.py STATE_DICT.pt OUT.safetensors \\
        --arch cnn --dataset cifar10 --n_layers 1 --n_filters 4 [--meta key=value ...]

STATE_DICT.pt is what `torch.save(model.state_dict(), path)` writes, or a
dict holding state_dicts (the paper's train.py saves {'last': ..., 'best':
...}): pick one with --key. The input is checked by loading it with
strict=True into the model of scripts/fastadv_models.py built from the
options, so names and shapes are right before anything is written. Keys of
DataParallel ("module.") are unwrapped, and aliases of the same parameter
(the paper's model_preact_hl1.* entries) are dropped, with a note. Tensors
are written as F32 (num_batches_tracked as I64) with the metadata that
`fastadv eval` uses to rebuild the model.
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fastadv_models  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("state_dict", help="a file written by torch.save(model.state_dict(), ...)")
    p.add_argument("out", help="the fastadv checkpoint to write (.safetensors)")
    p.add_argument("--arch", required=True, choices=fastadv_models.ARCHS)
    p.add_argument("--dataset", choices=sorted(fastadv_models.DATASETS), default="cifar10",
                   help="sets the input shape and the classes (default cifar10)")
    p.add_argument("--in_channels", type=int)
    p.add_argument("--height", type=int)
    p.add_argument("--width", type=int)
    p.add_argument("--n_classes", type=int)
    p.add_argument("--n_layers", type=int, default=1, help="cnn: conv layers (default 1)")
    p.add_argument("--n_filters", "--n_filters_cnn", type=int, default=16, help="cnn: filters (default 16)")
    p.add_argument("--resnet_width", type=int, default=64, help="resnet18: planes of the first stage (default 64)")
    p.add_argument("--key", help="the entry to convert when the file holds several state_dicts ('last', 'best')")
    p.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE", help="extra metadata (repeatable)")
    return p.parse_args()


def fail(msg):
    print(f"torch_to_safetensors: {msg}", file=sys.stderr)
    sys.exit(1)


def pick_state_dict(obj, key, path):
    if not isinstance(obj, dict):
        fail(f"{path} holds a {type(obj).__name__}, not a state_dict; save model.state_dict()")
    if key is not None:
        if key not in obj:
            fail(f"{path} has no entry {key!r}; it has {', '.join(map(str, obj))}")
        obj = obj[key]
    tensors = {k: v for k, v in obj.items() if torch.is_tensor(v)}
    if not tensors:
        fail(f"{path} holds no tensors at this level (entries: {', '.join(map(str, obj))}); choose one with --key")
    if len(tensors) != len(obj):
        fail(f"{path} mixes tensors with other entries ({', '.join(str(k) for k in obj if k not in tensors)}); "
             "choose a state_dict with --key")
    return tensors


def clean(state):
    """Unwraps DataParallel names and drops aliases of kept tensors."""
    if all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
        print("note: removed the 'module.' prefix of DataParallel")
    kept, seen, aliases = {}, {}, []
    for name, t in state.items():
        ident = (t.data_ptr(), t.shape, t.stride(), t.dtype) if t.numel() else None
        if ident in seen:
            aliases.append(f"{name} (= {seen[ident]})")
            continue
        if ident is not None:
            seen[ident] = name
        kept[name] = t
    if aliases:
        print(f"note: dropped {len(aliases)} aliases of other entries: {', '.join(aliases[:4])}"
              + (" ..." if len(aliases) > 4 else ""))
    return kept


def main():
    args = parse_args()
    c, h, w, n = fastadv_models.DATASETS[args.dataset]
    config = {"arch": args.arch, "in_channels": args.in_channels or c, "height": args.height or h,
              "width": args.width or w, "n_classes": args.n_classes or n, "n_layers": args.n_layers,
              "n_filters": args.n_filters, "resnet_width": args.resnet_width}
    extra = {"dataset": args.dataset, "source": os.path.basename(args.state_dict)}
    for pair in args.meta:
        if "=" not in pair:
            fail(f"--meta {pair!r}: write KEY=VALUE")
        k, v = pair.split("=", 1)
        extra[k] = v
    try:
        obj = torch.load(args.state_dict, map_location="cpu", weights_only=True)  # no code from the file runs
    except Exception as e:  # noqa: BLE001 - any unreadable file
        fail(f"cannot read {args.state_dict} with torch.load: {e}")
    state = clean(pick_state_dict(obj, args.key, args.state_dict))
    try:
        model = fastadv_models.build(config)
    except (ValueError, RuntimeError) as e:
        fail(f"cannot build a {args.arch} with {config}: {e}")
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        fail(f"{args.state_dict} does not fit a {args.arch} built from these options "
             f"({', '.join(f'{k}={v}' for k, v in config.items())}):\n  {e}\n"
             "Check --arch, --dataset (or --in_channels/--height/--width/--n_classes), --n_layers, --n_filters "
             "and --resnet_width.")
    try:
        fastadv_models.save_checkpoint(args.out, model, config, extra)
    except (OSError, ValueError) as e:
        fail(f"cannot write {args.out}: {e}")
    n_params = sum(t.numel() for t in model.state_dict().values())
    print(f"wrote {args.out}: {args.arch}, {len(model.state_dict())} tensors, {n_params} values")


if __name__ == "__main__":
    main()
