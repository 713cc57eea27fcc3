#!/usr/bin/python3
"""fastadv's AutoAttack beside the official PyTorch code (fra31/auto-attack), issue 15.

    /usr/bin/python3 bench/compare_autoattack.py --official=/tmp/auto-attack [--n=1000] \
        [--model_path=tests/fixtures/plain_cnn4_fmnist.safetensors] [--seeds=0,1,2]

The official code is not part of this repository: bring it with the session's
fetch tool (github:fra31/auto-attack) and unpack it anywhere; --official names
the folder holding its `autoattack` package. The model is a plain safetensors
state_dict of scripts/fastadv_models.py's cnn (1 layer, --n_filters), the data
the first N Fashion-MNIST test images (x_u8 / 255, float32), as
scripts/gen_plain_safetensors_fixture.py reads them. For each seed it runs the
official version='standard' (norm Linf, eps 8/255; apgd-ce, apgd-t, fab-t,
square, each on the points still robust) with torch.set_num_threads(THREADS),
reading each stage's robust accuracy and cumulative time from the official log
lines ("robust accuracy after APGD-CE: ..."), then `build/fastadv eval
--attack=autoattack --seed=S` with OMP_NUM_THREADS=THREADS, reading its
--results_json. Prints one table; the criterion (docs/AUTOATTACK.md, "Against
the official code"): clean identical; each stage's fastadv accuracy, per seed, within
max(official spread over the seeds, 1 point) of the official mean. Needs torch (Debian's
python3-torch) and safetensors (PyPI). Python is only for this comparison.
"""
import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from safetensors.torch import load_file

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import fastadv_models  # noqa: E402

FMNIST = "/usr/share/datasets/fashion-mnist"
STAGES = ("apgd-ce", "apgd-t", "fab-t", "square")
THREADS = 2


def idx(name, n, image):
    """The first n images (n, 1, 28, 28) uint8 or labels (n,) of an IDX file."""
    with gzip.open(os.path.join(FMNIST, name)) as f:
        data = f.read()
    skip = 16 if image else 8
    x = np.frombuffer(data, dtype=np.uint8, count=n * (784 if image else 1), offset=skip)
    return x.reshape(n, 1, 28, 28) if image else x.astype(np.int64)


class StageLog:
    """Collects the official log: clean accuracy and, per stage, (accuracy %, cumulative s)."""

    def __init__(self):
        self.clean, self.stages = None, {}

    def log(self, line):
        line = str(line)
        if line.startswith("initial accuracy:"):
            self.clean = float(line.split(":")[1].strip().rstrip("%"))
        elif line.startswith("robust accuracy after "):
            name = line[len("robust accuracy after "):].split(":")[0].lower()
            acc = float(line.split(":")[1].split("%")[0])
            secs = float(line.split("total time ")[1].split(" s")[0])
            self.stages[name] = (acc, secs)


def run_official(model, x, y, seed, eps):
    from autoattack import AutoAttack
    adversary = AutoAttack(model, norm="Linf", eps=eps, version="standard", seed=seed, verbose=True,
                           device="cpu")
    log = StageLog()
    adversary.logger = log
    start = time.time()
    adversary.run_standard_evaluation(x, y, bs=250)
    total = time.time() - start
    return log, total


def run_fastadv(args, seed):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "aa.json")
        env = dict(os.environ, OMP_NUM_THREADS=str(THREADS), OMP_WAIT_POLICY="PASSIVE")
        cmd = [args.fastadv, "eval", f"--model_path={args.model_path}", "--model=cnn",
               f"--n_filters_cnn={args.n_filters}", "--dataset=fmnist", f"--n_eval={args.n}",
               f"--eps={args.eps}", "--attack=autoattack", f"--seed={seed}", f"--results_json={out}"]
        start = time.time()
        subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
        total = time.time() - start
        with open(out) as f:
            res = json.load(f)
    return res, total


def spread(values):
    return max(values) - min(values)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--official", default="/tmp/auto-attack", help="folder holding the official `autoattack`")
    p.add_argument("--model_path", default=os.path.join(ROOT, "tests/fixtures/plain_cnn4_fmnist.safetensors"))
    p.add_argument("--n_filters", type=int, default=4)
    p.add_argument("--fastadv", default=os.path.join(ROOT, "build/fastadv"))
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--eps", type=int, default=8, help="eps in 1/255")
    p.add_argument("--seeds", default="0,1,2")
    args = p.parse_args()
    sys.path.insert(0, args.official)
    torch.set_num_threads(THREADS)
    seeds = [int(s) for s in args.seeds.split(",")]

    model = fastadv_models.build({"arch": "cnn", "in_channels": 1, "height": 28, "width": 28, "n_classes": 10,
                                  "n_layers": 1, "n_filters": args.n_filters})
    model.load_state_dict(load_file(args.model_path), strict=True)
    model.eval()
    x = torch.tensor(idx("t10k-images-idx3-ubyte.gz", args.n, True), dtype=torch.float32) / 255
    y = torch.tensor(idx("t10k-labels-idx1-ubyte.gz", args.n, False))

    off, fa = {}, {}
    for s in seeds:
        off[s] = run_official(model, x, y, s, args.eps / 255)
        print(f"official seed {s}: clean {off[s][0].clean:.2f}%, "
              + ", ".join(f"{k} {v[0]:.2f}%" for k, v in off[s][0].stages.items())
              + f"; {off[s][1]:.1f} s", flush=True)
        fa[s] = run_fastadv(args, s)
        print(f"fastadv  seed {s}: clean {fa[s][0]['clean_acc']:.2f}%, "
              + ", ".join(f"{st['name']} {st['robust_acc']:.2f}%" for st in fa[s][0]["stages"])
              + f"; {fa[s][1]:.1f} s", flush=True)

    def off_stage(s, name):
        return off[s][0].stages.get(name, (off[s][0].stages[list(off[s][0].stages)[-1]][0], None))

    def off_stage_secs(s, i):
        """Seconds of the i-th stage from the official cumulative times (0 when skipped)."""
        cum = [off[s][0].stages[n][1] if n in off[s][0].stages else None for n in STAGES]
        if cum[i] is None:
            return 0.0
        prev = [c for c in cum[:i] if c is not None]
        return cum[i] - (prev[-1] if prev else 0.0)

    def fa_stage(s, name):
        for st in fa[s][0]["stages"]:
            if st["name"].lower() == name:
                return st["robust_acc"], st["seconds"]
        raise KeyError(f"fastadv's results have no stage {name!r}")

    ok_all = True
    print(f"\nAutoAttack standard, Linf eps {args.eps}/255, first {args.n} Fashion-MNIST test images, "
          f"{args.model_path}, {THREADS} threads each; seeds {','.join(map(str, seeds))}")
    head = "| | official (" + ", ".join(f"s{s}" for s in seeds) + ") | spread | fastadv (" \
        + ", ".join(f"s{s}" for s in seeds) + ") | within |"
    print(head)
    print("|---|---|---|---|---|")
    o_clean = [off[s][0].clean for s in seeds]
    f_clean = [fa[s][0]["clean_acc"] for s in seeds]  # fastadv's JSON holds percent
    same = all(abs(a - b) < 1e-9 for a, b in zip(o_clean, f_clean))
    ok_all &= same
    print(f"| clean | {', '.join(f'{v:.2f}' for v in o_clean)} | {spread(o_clean):.2f} | "
          f"{', '.join(f'{v:.2f}' for v in f_clean)} | {'identical' if same else 'DIFFERENT'} |")
    for name in STAGES:
        o = [off_stage(s, name)[0] for s in seeds]
        f = [fa_stage(s, name)[0] for s in seeds]
        tol = max(spread(o), 1.0)
        inside = all(abs(v - np.mean(o)) <= tol for v in f)  # each fastadv seed against the official mean
        ok_all &= inside
        print(f"| after {name} | {', '.join(f'{v:.2f}' for v in o)} | {spread(o):.2f} | "
              f"{', '.join(f'{v:.2f}' for v in f)} | {'yes' if inside else 'NO'} (tol {tol:.2f}) |")
    o_final = [off_stage(s, "square")[0] for s in seeds]
    f_final = [fa[s][0]["autoattack_acc"] for s in seeds]
    print(f"| AutoAttack | {', '.join(f'{v:.2f}' for v in o_final)} | {spread(o_final):.2f} | "
          f"{', '.join(f'{v:.2f}' for v in f_final)} | |")

    print("\nseconds (mean over seeds; each stage on the points still robust)")
    print("| stage | official s | fastadv s | official / fastadv |")
    print("|---|---|---|---|")
    for i, name in enumerate(STAGES):
        o = np.mean([off_stage_secs(s, i) for s in seeds])
        f = np.mean([fa_stage(s, name)[1] for s in seeds])
        print(f"| {name} | {o:.1f} | {f:.1f} | {o / f if f > 0 else float('nan'):.1f}x |")
    o = np.mean([off[s][1] for s in seeds])
    f = np.mean([fa[s][1] for s in seeds])
    print(f"| whole run (process wall time for fastadv) | {o:.1f} | {f:.1f} | {o / f:.1f}x |")
    print(f"\ncriterion {'met' if ok_all else 'NOT met'}")
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
