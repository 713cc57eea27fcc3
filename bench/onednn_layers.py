#!/usr/bin/python3
"""Where a training step's oneDNN time goes, layer by layer, from a run with
ONEDNN_VERBOSE=1 (docs/PERFORMANCE.md, "bfloat16"):

    ONEDNN_VERBOSE=1 build/bench/bench_step resnet18 fgsm 1 1 128 bf16 > v.txt
    /usr/bin/python3 bench/onednn_layers.py v.txt [PEAK_GFLOPS]

Reads the timed repetition (the second half of the "exec" lines: the run
is one warm-up and one timed repetition), sums each convolution geometry
and direction's milliseconds, gives its achieved GFLOP/s (the direct
algorithm's 2 n c_out h_out w_out c_in k^2 per call) and, with PEAK_GFLOPS,
its fraction of that peak; then the reorders by source and destination
type, and the step's time outside oneDNN (the JSON line's seconds).
"""
import collections
import json
import re
import sys


def flops(shape):
    """2 n c_out h_out w_out c_in k_h k_w from oneDNN's mb..ic..oc.._ih..oh..kh.. descriptor."""
    v = {k: int(n) for k, n in re.findall(r"([a-z]+)(\d+)", shape)}
    return 2.0 * v["mb"] * v["oc"] * v["oh"] * v["ow"] * v["ic"] * v["kh"] * v["kw"]


def main(path, peak):
    lines = open(path).read().splitlines()
    execs = [l.split(",") for l in lines if l.startswith("onednn_verbose,exec")]
    execs = execs[len(execs) // 2:]
    step = json.loads([l for l in lines if l.startswith("{")][-1])
    conv = collections.defaultdict(lambda: [0.0, 0, 0.0])
    reorder = collections.defaultdict(lambda: [0.0, 0])
    for f in execs:
        ms = float(f[-1])
        if f[3] == "convolution":
            key = (f[-2], f[5], f[4])
            conv[key][0] += ms
            conv[key][1] += 1
            conv[key][2] += flops(f[-2])
        elif f[3] == "reorder":
            types = re.findall(r"(src|dst)_(\w+?):", f[6])
            reorder[" -> ".join(t for _, t in types) + " " + f[-2]][0] += ms
            reorder[" -> ".join(t for _, t in types) + " " + f[-2]][1] += 1
    total_conv = sum(v[0] for v in conv.values())
    total_reorder = sum(v[0] for v in reorder.values())
    print(f"| convolution (batch, channels, size) | direction | kernel | calls | ms | GFLOP/s |"
          + (" of peak |" if peak else ""))
    print("|---|---|---|---:|---:|---:|" + ("---:|" if peak else ""))
    for (shape, direction, impl), (ms, n, fl) in sorted(conv.items(), key=lambda kv: -kv[1][0]):
        rate = fl / ms * 1e-6
        print(f"| {shape} | {direction} | {impl} | {n} | {ms:.1f} | {rate:.0f} |"
              + (f" {rate / peak:.2f} |" if peak else ""))
    print("\n| reorder (types, tensor) | calls | ms |\n|---|---:|---:|")
    for key, (ms, n) in sorted(reorder.items(), key=lambda kv: -kv[1][0])[:12]:
        print(f"| {key} | {n} | {ms:.1f} |")
    step_ms = step["seconds"] * 1e3
    print(f"\nstep {step_ms:.0f} ms: convolutions {total_conv:.0f} ms, reorders {total_reorder:.0f} ms, "
          f"outside oneDNN {step_ms - total_conv - total_reorder:.0f} ms")


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 0.0)
