#!/bin/sh
# The scaling model of docs/SCALE.md: one run of ResNet-18 on N nodes, the
# global batch of 128 split into N slices, one all-reduce of the gradients
# per step.
#
#   bench/scale_model.sh measure BUILD [THREADS] > STEPS
#       times one training step of ResNet-18 (bench_step, FGSM and FGSM +
#       GradAlign) at the batch one node gets at N = 1, 2, 4, ..., 64
#       (128 / N), on THREADS threads (2): lines "WORKLOAD BATCH SECONDS",
#       with `uptime` before and after as comments. About 3 minutes on an
#       idle 2-core machine.
#   bench/scale_model.sh model STEPS HOST_GBPS [FGSM_S GRADALIGN_S]
#       the tables: per N, for networks of 10 / 25 / 100 Gb/s, the
#       all-reduce's time, an epoch's minutes and the efficiency. HOST_GBPS
#       0: the wire alone limits. FGSM_S and GRADALIGN_S, when given, are
#       the seconds of a step of 128 measured on an idle machine: each
#       workload's measured times are scaled to match it (the measurement's
#       shape, the idle machine's level).
#
# The model (what is measured and what is assumed, docs/SCALE.md):
#   step(N)     = compute(128 / N) + allreduce(N)            (no overlap)
#   allreduce(N) = 2 (N - 1) / N x S / B + 2 (N - 1) x alpha  (a ring all-reduce)
#   S = 11,171,146 floats x 4 bytes; alpha = 30 us per message;
#   B = min(0.9 x link rate, HOST_GBPS): the wire's payload rate, or what
#       one host's processes reach through a network interface (measured:
#       bench/allreduce.sh's veth case, its bus rate), whichever is lower
#       (sending and the host's work pipelined); HOST_GBPS 0: the wire's
#   epoch(N)    = 390 steps (50,000 images, the last incomplete batch dropped)
#   efficiency  = step(1) / (N x step(N)); and with compute(128 / N) taken
#                 as compute(128) / N, the network's share alone
set -eu
mode=${1:?usage: scale_model.sh measure BUILD | model STEPS HOST_GBPS}
case $mode in
measure)
  build=${2:?usage: scale_model.sh measure BUILD [THREADS]}
  threads=${3:-2}
  echo "# $threads threads; uptime before: $(uptime)"
  for workload in fgsm gradalign; do
    for batch in 128 64 32 16 8 4 2; do
      reps=3
      [ "$batch" -le 16 ] && reps=9
      line=$(OMP_NUM_THREADS=$threads OMP_WAIT_POLICY=PASSIVE OMP_PROC_BIND=spread OMP_PLACES=cores \
        "$build/bench/bench_step" resnet18 "$workload" $reps 1 "$batch")
      echo "$workload $batch $(echo "$line" | sed 's/.*"seconds": \([0-9.]*\).*/\1/')"
    done
  done
  echo "# uptime after: $(uptime)"
  ;;
model)
  steps=${2:?usage: scale_model.sh model STEPS HOST_GBPS}
  host=${3:?usage: scale_model.sh model STEPS HOST_GBPS [FGSM_S GRADALIGN_S]}
  awk -v host="$host" -v anchor_fgsm="${4:-0}" -v anchor_gradalign="${5:-0}" '
    /^#/ { next }
    { t[$1 " " $2] = $3 }
    END {
      anchor["fgsm"] = anchor_fgsm; anchor["gradalign"] = anchor_gradalign
      for (k in t) { split(k, wb, " "); if (anchor[wb[1]] > 0) scaled[k] = t[k] * anchor[wb[1]] / t[wb[1] " 128"] }
      for (k in scaled) t[k] = scaled[k]
      S = 11171146 * 4; alpha = 30e-6; steps = 390
      split("10 25 100", links, " ")
      split("fgsm gradalign", workloads, " ")
      name["fgsm"] = "ResNet-18, FGSM"; name["gradalign"] = "ResNet-18, FGSM + GradAlign"
      for (w = 1; w <= 2; w++) {
        wl = workloads[w]; one = t[wl " 128"]
        printf "\n%s: one node %.2f s per step, %.1f min per epoch; cells with three values are for 10 / 25 / 100 Gb/s\n\n", name[wl], one, one * steps / 60
        printf "| nodes | batch per node | compute per step (s) | all-reduce (ms) | epoch (min) | efficiency | efficiency, compute / N |\n"
        printf "|---:|---:|---:|---:|---:|---:|---:|\n"
        for (n = 2; n <= 64; n *= 2) {
          b = 128 / n; c = t[wl " " b]
          ars = ""; epochs = ""; effs = ""; linear = ""
          for (l = 1; l <= 3; l++) {
            rate = 0.9 * links[l] / 8; if (host > 0 && host < rate) rate = host
            ar = 2 * (n - 1) / n * S / (rate * 1e9) + 2 * (n - 1) * alpha
            step = c + ar; sep = l < 3 ? " / " : ""
            ars = ars sprintf("%.0f", ar * 1e3) sep
            epochs = epochs sprintf("%.2f", step * steps / 60) sep
            effs = effs sprintf("%.0f%%", 100 * one / (n * step)) sep
            linear = linear sprintf("%.0f%%", 100 * one / (n * (one / n + ar))) sep
          }
          printf "| %d | %d | %.3f | %s | %s | %s | %s |\n", n, b, c, ars, epochs, effs, linear
        }
      }
    }' "$steps"
  ;;
*)
  echo "usage: scale_model.sh measure BUILD | model STEPS HOST_GBPS"
  exit 2
  ;;
esac
