#!/usr/bin/python3
"""Two fastadv builds side by side, in one sitting: did a change move the speed?

    /usr/bin/python3 bench/compare_builds.py OLD_BUILD NEW_BUILD [--rounds N] [--only TEXT]

Runs OLD_BUILD/bench/bench_step and NEW_BUILD/bench/bench_step on the cnn-4
and ResNet-18 training steps, alternating which binary goes first, each in a
fresh process, with the thread settings of bench/compare_pytorch.py (2
threads bound to the cores, OMP_WAIT_POLICY=passive). Prints, per
configuration, every round's seconds per step and the median of each build
with the ratio new / old of the medians (above 1: the new build is slower).
"""
import argparse
import os
import statistics
import sys

from compare_pytorch import commit, machine, run_json

CONFIGS = [  # (model, workload, reps, warmup, default rounds)
    ("cnn", "fgsm", 15, 3, 9),
    ("cnn", "gradalign", 15, 3, 9),
    ("cnn", "pgd10", 9, 2, 9),
    ("resnet18", "fgsm", 3, 1, 3),
    ("resnet18", "gradalign", 2, 1, 3),
    ("resnet18", "pgd10", 2, 1, 3),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("old_build")
    ap.add_argument("new_build")
    ap.add_argument("--rounds", type=int, default=0, help="rounds per configuration (default 9 cnn, 3 ResNet-18)")
    ap.add_argument("--only", default="", help="run only the models/workloads containing this text")
    args = ap.parse_args()
    try:
        with open("/proc/self/autogroup", "w") as f:
            f.write("-19")
    except OSError as e:
        print(f"note: could not raise the autogroup priority ({e}); numbers may be noisy", file=sys.stderr)
    env = dict(os.environ, OMP_NUM_THREADS="2", OMP_WAIT_POLICY="passive", OMP_PROC_BIND="spread",
               OMP_PLACES="cores")
    builds = {"old": args.old_build, "new": args.new_build}
    print(f"machine: {machine()}; commit {commit()}; old {args.old_build}, new {args.new_build}; "
          "batch 128, 2 threads bound, OMP_WAIT_POLICY=passive\n")
    print("| configuration | rounds | old ms (median) | new ms (median) | new / old |")
    print("|---|---:|---:|---:|---:|")
    for i, (model, workload, reps, warmup, default_rounds) in enumerate(CONFIGS):
        if args.only and args.only not in f"{model} {workload}":
            continue
        rounds = args.rounds or default_rounds
        seconds = {"old": [], "new": []}
        order = ["old", "new"]
        for r in range(rounds):
            for name in (order if (i + r) % 2 == 0 else order[::-1]):
                cmd = [os.path.join(builds[name], "bench", "bench_step"), model, workload, str(reps), str(warmup)]
                seconds[name].append(run_json(cmd, env)["seconds"])
        old, new = statistics.median(seconds["old"]), statistics.median(seconds["new"])
        print(f"  {model} {workload}: old {[round(s * 1e3, 2) for s in seconds['old']]} ms, "
              f"new {[round(s * 1e3, 2) for s in seconds['new']]} ms", file=sys.stderr)
        print(f"| {model} {workload} | {rounds} | {old * 1e3:.2f} | {new * 1e3:.2f} | {new / old:.3f} |", flush=True)


if __name__ == "__main__":
    main()
