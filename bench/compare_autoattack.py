#!/usr/bin/python3
"""fastadv's AutoAttack beside the official PyTorch code (fra31/auto-attack) and torchattacks, issue 15.

    /usr/bin/python3 bench/compare_autoattack.py --official=/tmp/auto-attack [--n=1000] [--seeds=0,1,2] \
        [--model_path=tests/fixtures/plain_cnn4_fmnist.safetensors --arch=cnn --n_filters=4 --dataset=fmnist] \
        [--attacks=standard|STAGE,STAGE,...] [--eps=8] [--sides=official,fastadv,torchattacks,torchattacks-shipped] \
        [--fastadv_processes=2 --fastadv_batch=100] \
        [--python_official='PYTHONPATH=/usr/lib/python3/dist-packages /usr/bin/python3'] \
        [--python_torchattacks=/usr/bin/python3] [--json=FILE]

The official code is not part of this repository: bring it with the session's fetch tool
(github:fra31/auto-attack) and unpack it anywhere; --official names the folder holding its
`autoattack` package. The model: a plain safetensors state_dict (PyTorch's save_file) of
scripts/fastadv_models.py's cnn (1 layer, --n_filters) or resnet18, or a fastadv checkpoint
(its metadata names the model). The data: the first N test images of --dataset (x_u8 / 255,
float32), read by both sides from --data_dir (default: fmnist /usr/share/datasets, cifar10
$FASTADV_DATA); with FASTADV_CIFAR10_SUBSET=1 in the environment a test_batch.bin of any
length (a subset made on purpose) is accepted by both.

For each seed, one after the other (alternating, so that the machine's load falls on all alike):
  official              fra31/auto-attack, version='standard' (or, for a list of its stages,
                        'custom' with those stages in that order and the standard version's
                        settings: 1 restart, 9 targets, 5,000 queries), norm Linf, bs --batch (250); each stage's robust
                        accuracy and cumulative time from its own log lines
  torchattacks          torchattacks.AutoAttack's stages (APGD-CE, APGD-T, FAB multi-targeted,
                        Square) set to the official standard version: 100 iterations for APGD,
                        APGD-T and FAB, Square's schedule not rescaled (resc_schedule False); each
                        stage run here on the points still robust, bs --batch
  torchattacks-shipped  torchattacks.AutoAttack(version='standard') as shipped: its APGD, APGD-T
                        and FAB keep their default of 10 iterations and its Square rescales the
                        schedule to 5,000 queries (both differ from the official code)
  fastadv               `build/fastadv eval --attack=autoattack --aa_attacks=... --seed=S`, read
                        from its --results_json; with --fastadv_processes=P under `mpirun -np P`
Each PyTorch side runs in its own process (--python_official, --python_torchattacks: an
interpreter, with VAR=value assignments before it) with torch.set_num_threads(THREADS) and
OMP_NUM_THREADS=THREADS; fastadv with OMP_NUM_THREADS=THREADS. `uptime` is printed before each
run. Prints the tables of docs/AUTOATTACK.md ("Against the official code") and
docs/PERFORMANCE.md ("AutoAttack"): the criterion (issue 15) is clean accuracy identical and
each stage's fastadv accuracy, per seed, within max(official spread over the seeds, 1 point)
of the official mean; the time per example-iteration of a stage is its seconds over (examples
entering it x its iterations: 100 for APGD-CE, 9 x 100 for APGD-T and FAB-T, 5,000 for Square;
torchattacks-shipped: 10, 9 x 10, 9 x 10, 5,000).
Exit status 0 when the criterion is met. Needs numpy; the PyTorch sides need torch, safetensors
and torchattacks (PyPI). Python is only for this comparison.
"""
import argparse
import gzip
import json
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
sys.path.insert(0, os.path.join(ROOT, "scripts"))

THREADS = 2
STANDARD = ("apgd-ce", "apgd-t", "fab-t", "square")


def stages_of(attacks):
    """The stages of --attacks: 'standard', or a list of STANDARD's stages in any order."""
    return STANDARD if attacks == "standard" else tuple(attacks.split(","))
ITERATIONS = {"apgd-ce": 100, "apgd-t": 900, "fab-t": 900, "square": 5000}  # per example entering the stage
ITERATIONS_SHIPPED = {"apgd-ce": 10, "apgd-t": 90, "fab-t": 90, "square": 5000}  # torchattacks' defaults
PYTORCH_SIDES = ("official", "torchattacks", "torchattacks-shipped")
SHAPES = {"fmnist": (1, 28, 28), "cifar10": (3, 32, 32)}


# ---- the data and the model (PyTorch sides)

def data_dir(args):
    if args.data_dir:
        return args.data_dir
    return "/usr/share/datasets" if args.dataset == "fmnist" else os.environ.get("FASTADV_DATA", "")


def find(root, subs, name):
    for sub in subs:
        if os.path.exists(os.path.join(root, sub, name)):
            return os.path.join(root, sub, name)
    sys.exit(f"compare_autoattack: no {name} under {root} ({', '.join(s or '.' for s in subs)})")


def load_data(args):
    """The first n test images (n, C, H, W) float32 in [0, 1] and labels (n,) int64, as numpy."""
    root = data_dir(args)
    if args.dataset == "fmnist":
        def idx(name, image):
            with gzip.open(find(root, ("fashion-mnist", "fmnist", ""), name)) as f:
                data = f.read()
            v = np.frombuffer(data, dtype=np.uint8, count=args.n * (784 if image else 1), offset=16 if image else 8)
            return v.reshape(args.n, 1, 28, 28) if image else v.astype(np.int64)
        return idx("t10k-images-idx3-ubyte.gz", True).astype(np.float32) / 255, idx("t10k-labels-idx1-ubyte.gz", False)
    path = find(root, ("cifar10/cifar-10-batches-bin", "cifar-10-batches-bin", "cifar10", ""), "test_batch.bin")
    rec = np.fromfile(path, dtype=np.uint8).reshape(-1, 3073)[:args.n]
    if len(rec) < args.n:
        sys.exit(f"compare_autoattack: {path} holds {len(rec)} images, fewer than --n={args.n}")
    return rec[:, 1:].reshape(-1, 3, 32, 32).astype(np.float32) / 255, rec[:, 0].astype(np.int64)


def has_fastadv_metadata(path):
    import safetensors_py
    return "arch" in safetensors_py.load(path)[1]


def load_model(args):
    import fastadv_models
    from safetensors.torch import load_file
    if has_fastadv_metadata(args.model_path):
        model = fastadv_models.load_checkpoint(args.model_path)[0]
    else:
        c, h, w = SHAPES[args.dataset]
        model = fastadv_models.build({"arch": args.arch, "in_channels": c, "height": h, "width": w, "n_classes": 10,
                                      "n_layers": 1, "n_filters": args.n_filters})
        model.load_state_dict(load_file(args.model_path), strict=True)
    return model.eval()


# ---- the PyTorch sides, each in its own process (--worker)

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


def run_official(args, model, x, y):
    sys.path.insert(0, args.official)
    from autoattack import AutoAttack
    stages = stages_of(args.attacks)
    if args.attacks == "standard":
        adversary = AutoAttack(model, norm="Linf", eps=args.eps / 255, version="standard", seed=args.seed,
                               verbose=True, device="cpu")
    else:
        # the standard version's settings (its set_version), the stages in the order given
        adversary = AutoAttack(model, norm="Linf", eps=args.eps / 255, version="custom", attacks_to_run=list(stages),
                               seed=args.seed, verbose=True, device="cpu")
        adversary.apgd.n_restarts = adversary.apgd_targeted.n_restarts = adversary.fab.n_restarts = 1
        adversary.apgd_targeted.n_target_classes = adversary.fab.n_target_classes = 9
        adversary.square.n_queries = 5000
    log = StageLog()
    adversary.logger = log
    start = time.time()
    adversary.run_standard_evaluation(x, y, bs=args.batch)
    total = time.time() - start
    # a stage the official code skipped (nothing left robust) keeps the accuracy before it, 0 s
    out, acc, cum_prev = [], log.clean, 0.0
    for name in stages:
        if name in log.stages:
            acc, cum = log.stages[name]
            out.append([name, acc, cum - cum_prev])
            cum_prev = cum
        else:
            out.append([name, acc, 0.0])
    return log.clean, out, total


def run_torchattacks(args, model, x, y, shipped):
    import torch
    import torchattacks
    bs = args.batch
    aa = torchattacks.AutoAttack(model, norm="Linf", eps=args.eps / 255, version="standard", n_classes=10,
                                 seed=args.seed)
    attacks = [aa._autoattack.attacks[STANDARD.index(name)] for name in stages_of(args.attacks)]
    if not shipped:
        for a in attacks:
            if hasattr(a, "steps"):
                a.steps = 100
            if hasattr(a, "rescale_schedule"):
                a.rescale_schedule = False

    def correct(xs, ys):
        with torch.no_grad():
            return torch.cat([model(xs[i:i + bs]).argmax(1) == ys[i:i + bs] for i in range(0, len(ys), bs)])

    start = time.time()
    robust = correct(x, y)
    clean = 100 * robust.float().mean().item()
    out = []
    for name, attack in zip(stages_of(args.attacks), attacks):
        t0 = time.time()
        idx = robust.nonzero().flatten()
        for i in range(0, len(idx), bs):
            rows = idx[i:i + bs]
            adv = attack(x[rows], y[rows])
            robust[rows] = correct(adv, y[rows])
        out.append([name, 100 * robust.float().mean().item(), time.time() - t0])
    return clean, out, time.time() - start


def worker(args):
    import torch
    torch.set_num_threads(THREADS)
    model = load_model(args)
    xn, yn = load_data(args)
    x, y = torch.tensor(xn), torch.tensor(yn)
    if args.worker == "official":
        clean, stages, total = run_official(args, model, x, y)
    else:
        clean, stages, total = run_torchattacks(args, model, x, y, args.worker == "torchattacks-shipped")
    print("RESULT " + json.dumps({"clean": clean, "stages": stages, "seconds": total, "torch": torch.__version__}))


# ---- the driver

def interpreter(spec):
    """(environment additions, argv) of 'VAR=value ... python'."""
    words = shlex.split(spec)
    env = {}
    while words and "=" in words[0] and not words[0].startswith("/"):
        k, v = words.pop(0).split("=", 1)
        env[k] = v
    return env, words


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_side(args, side, seed):
    """{"clean", "stages": [[name, acc %, s]], "seconds", "torch", "cpu"} of one side and seed
    ("cpu": user + system seconds of its whole process, interpreter start and model loading included)."""
    cpu0 = children_cpu()
    res = run_side_process(args, side, seed)
    res["cpu"] = children_cpu() - cpu0
    return res


def run_side_process(args, side, seed):
    env = dict(os.environ, OMP_NUM_THREADS=str(THREADS), OMP_WAIT_POLICY="PASSIVE")
    if side == "fastadv":
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "aa.json")
            launcher = []
            if args.fastadv_processes > 1:  # mpirun -np P, THREADS / P threads each (docs/AUTOATTACK.md)
                env["OMP_NUM_THREADS"] = str(max(THREADS // args.fastadv_processes, 1))
                launcher = ["mpirun", "-np", str(args.fastadv_processes), "--oversubscribe", "-x", "OMP_NUM_THREADS",
                            "-x", "OMP_WAIT_POLICY"] + (["--allow-run-as-root"] if os.geteuid() == 0 else [])
            cmd = launcher + [args.fastadv, "eval", f"--model_path={args.model_path}", f"--n_eval={args.n}",
                   f"--eps={args.eps}", "--attack=autoattack", f"--aa_attacks={','.join(stages_of(args.attacks))}",
                   f"--seed={seed}", f"--results_json={out}", f"--batch_size_eval={args.fastadv_batch}"]
            if not has_fastadv_metadata(args.model_path):
                cmd += [f"--model={args.arch}", f"--n_filters_cnn={args.n_filters}", f"--dataset={args.dataset}"]
            if args.dataset != "fmnist" or args.data_dir:
                cmd.append(f"--data_dir={data_dir(args)}")
            start = time.time()
            subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
            total = time.time() - start
            with open(out) as f:
                res = json.load(f)
        return {"clean": res["clean_acc"], "seconds": total, "torch": None,
                "stages": [[st["name"].lower(), st["robust_acc"], st["seconds"]] for st in res["stages"]]}
    extra, python = interpreter(args.python_official if side == "official" else args.python_torchattacks)
    env.update(extra)
    cmd = python + [os.path.abspath(__file__), f"--worker={side}", f"--seed={seed}"] + [
        f"--{k}={getattr(args, k)}" for k in ("official", "model_path", "arch", "n_filters", "dataset", "n", "eps",
                                               "attacks", "data_dir", "batch")]
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        sys.exit(f"compare_autoattack: the {side} side failed (exit {proc.returncode}): {' '.join(cmd)}")
    return json.loads(lines[-1][len("RESULT "):])


def spread(values):
    return max(values) - min(values)


def print_tables(args, res):
    """The accuracy and time tables of every side's seeds (a side may have run fewer seeds)."""
    sides = [s for s in args.sides if s in res]
    seeds = {s: sorted(res[s]) for s in sides}
    stages = stages_of(args.attacks)
    both = "official" in sides and "fastadv" in sides
    print(f"\nAutoAttack {args.attacks}, Linf eps {args.eps}/255, first {args.n} {args.dataset} test images, "
          f"{args.model_path}, {THREADS} threads each; torch "
          + ", ".join(f"{s} {res[s][seeds[s][0]]['torch']}" for s in sides if s != "fastadv"))
    print("| robust accuracy % | " + " | ".join(f"{s} (seeds {','.join(map(str, seeds[s]))})" for s in sides)
          + (" | official spread | fastadv within |" if both else " |"))
    print("|---|" + "---|" * (len(sides) + (2 if both else 0)))
    ok = True
    for i, name in enumerate(("clean",) + stages):
        vals = {s: [res[s][sd]["clean"] if i == 0 else res[s][sd]["stages"][i - 1][1] for sd in seeds[s]]
                for s in sides}
        verdict = ""
        if both:
            o, f = vals["official"], vals["fastadv"]
            if i == 0:
                inside = all(abs(v - o[0]) < 1e-9 for v in o + f)
                verdict = f" | {spread(o):.2f} | {'identical' if inside else 'DIFFERENT'}"
            else:
                tol = max(spread(o), 1.0)
                inside = all(abs(v - np.mean(o)) <= tol for v in f)  # each fastadv seed against the official mean
                verdict = f" | {spread(o):.2f} | {'yes' if inside else 'NO'} (tol {tol:.2f})"
            ok &= inside
        print(f"| {'after ' + name if i else name} | "
              + " | ".join(", ".join(f"{v:.2f}" for v in vals[s]) for s in sides) + verdict + " |")

    print("\nseconds per stage (mean over the seeds) and microseconds per example-iteration "
          "(stage seconds / (examples entering it x its iterations))")
    print("| stage | " + " | ".join(f"{s} s | {s} us/ex-it" for s in sides) + (" | official / fastadv |" if both else " |"))
    print("|---|" + "---|---|" * len(sides) + ("---|" if both else ""))
    for i, name in enumerate(stages):
        cells, secs = [], {}
        for s in sides:
            per = []
            for sd in seeds[s]:
                r = res[s][sd]
                entering = round((r["clean"] if i == 0 else r["stages"][i - 1][1]) * args.n / 100)
                its = (ITERATIONS_SHIPPED if s == "torchattacks-shipped" else ITERATIONS)[name]
                per.append(r["stages"][i][2] / (entering * its) * 1e6 if entering else float("nan"))
            secs[s] = np.mean([res[s][sd]["stages"][i][2] for sd in seeds[s]])
            cells.append(f"{secs[s]:.1f} | {np.mean(per):.1f}")
        ratio = (f" | {secs['official'] / secs['fastadv']:.1f}x" if secs["fastadv"] > 0 else " | -") if both else ""
        print(f"| {name} | " + " | ".join(cells) + ratio + " |")
    for what, key in (("whole run, wall (fastadv: its process)", "seconds"), ("whole process, CPU s", "cpu")):
        tot = {s: np.mean([res[s][sd][key] for sd in seeds[s]]) for s in sides}
        print(f"| {what} | " + " | ".join(f"{tot[s]:.1f} | " for s in sides)
              + (f" | {tot['official'] / tot['fastadv']:.1f}x |" if both else " |"))
    return ok


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--official", default="/tmp/auto-attack", help="folder holding the official `autoattack`")
    p.add_argument("--model_path", default=os.path.join(ROOT, "tests/fixtures/plain_cnn4_fmnist.safetensors"))
    p.add_argument("--arch", default="cnn", choices=("cnn", "resnet18"))
    p.add_argument("--n_filters", type=int, default=4)
    p.add_argument("--dataset", default="fmnist", choices=tuple(SHAPES))
    p.add_argument("--data_dir", default="")
    p.add_argument("--fastadv", default=os.path.join(ROOT, "build/fastadv"))
    p.add_argument("--batch", type=int, default=250, help="the PyTorch sides' batch size (the official default)")
    p.add_argument("--fastadv_batch", type=int, default=1024, help="fastadv's --batch_size_eval")
    p.add_argument("--fastadv_processes", type=int, default=1,
                   help="run fastadv as P MPI processes (mpirun -np P) of THREADS / P threads; give a "
                        "--fastadv_batch of at most n / P so that every process gets batches. Its stage "
                        "seconds are then summed over the processes")
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--eps", type=int, default=8, help="eps in 1/255")
    p.add_argument("--attacks", default="standard",
                   help="standard, or its stages (apgd-ce, apgd-t, fab-t, square) in any order, comma-separated")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--sides", default="official,fastadv")
    p.add_argument("--python_official", default="PYTHONPATH=/usr/lib/python3/dist-packages /usr/bin/python3",
                   help="interpreter of the official side (default: Debian's torch 1.13)")
    p.add_argument("--python_torchattacks", default="/usr/bin/python3")
    p.add_argument("--json", default="", help="also write every side's results per seed to this file")
    p.add_argument("--from_json", default="",
                   help="FILE,FILE...: print the tables of earlier runs' --json files (their seeds together), "
                        "running nothing")
    p.add_argument("--worker", default="", choices=("",) + PYTORCH_SIDES)
    p.add_argument("--seed", type=int, default=0, help="(worker) the seed")
    args = p.parse_args()
    if args.worker:
        return worker(args)
    args.sides = args.sides.split(",")
    if args.attacks != "standard" and (not set(stages_of(args.attacks)) <= set(STANDARD)
                                       or len(set(stages_of(args.attacks))) != len(stages_of(args.attacks))):
        p.error(f"--attacks={args.attacks}: 'standard' or distinct stages among {', '.join(STANDARD)}")
    unknown = set(args.sides) - set(PYTORCH_SIDES + ("fastadv",))
    if unknown:
        p.error(f"unknown sides {', '.join(sorted(unknown))}")
    seeds = [int(s) for s in args.seeds.split(",")]
    res = {s: {} for s in args.sides}
    if args.from_json:
        for path in args.from_json.split(","):
            with open(path) as f:
                saved = json.load(f)
            for k in ("model_path", "n", "dataset", "eps", "attacks"):
                setattr(args, k, saved["args"][k])
            for s, per_seed in saved["results"].items():
                for sd, r in per_seed.items():
                    res.setdefault(s, {})[int(sd)] = r
        args.sides = [s for s in args.sides if res.get(s)]
    for sd in (seeds if not args.from_json else []):
        for s in args.sides:
            load = subprocess.run(["uptime"], stdout=subprocess.PIPE, text=True).stdout.strip()
            res[s][sd] = run_side(args, s, sd)
            r = res[s][sd]
            r["uptime_before"] = load
            print(f"{s:>20} seed {sd}: clean {r['clean']:.2f}%, "
                  + ", ".join(f"{n} {a:.2f}% ({t:.1f} s)" for n, a, t in r["stages"])
                  + f"; {r['seconds']:.1f} s wall, {r['cpu']:.1f} s CPU   [before: {load}]", flush=True)
            if args.json:  # after every run, so that a stopped comparison keeps what it did
                with open(args.json + ".tmp", "w") as f:
                    json.dump({"args": vars(args), "results": {k: v for k, v in res.items() if v}}, f, indent=1)
                os.replace(args.json + ".tmp", args.json)
    ok = print_tables(args, res)
    if "official" in args.sides and "fastadv" in args.sides:
        print(f"\ncriterion {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
