#!/usr/bin/env bash
# --half_prec against float32 over seeds (issue 17, docs/EXPERIMENTS.md "bfloat16
# training over seeds"): the demo's setup (scripts/demo.sh: Fashion-MNIST, cnn-16,
# eps 51/255, 5 epochs; FGSM, FGSM + GradAlign, N-FGSM) in both precisions, and the
# paper's CIFAR-10 cnn-4 command (experiments/cifar10_cnn4.sh) with --half_prec; its
# float32 seeds are cifar10_cnn4.sh's own runs. Runs go to $RUNS/half_prec_demo and
# $RUNS/half_prec_cnn4; resumable, two copies may run at once (lib.sh).
#   SEEDS (default "0 1 2"), CNN4_SEEDS (default "0 1 2"; empty: none)
source "$(dirname "$0")/lib.sh"
SEEDS=${SEEDS-0 1 2}
CNN4_SEEDS=${CNN4_SEEDS-0 1 2}
source scripts/demo_flags.sh  # demo_setup (lib.sh runs from the repository's root)
for seed in $SEEDS; do
  for precision in f32 bf16; do
    half=(); [ $precision = bf16 ] && half=(--half_prec)
    for method in fgsm fgsm_ga nfgsm; do
      fa_run "$RUNS/half_prec_demo/${method}_${precision}_seed$seed" "${demo_setup[@]}" \
        $(method_flags $method 51 1.0) "${half[@]}" --seed="$seed"
    done
  done
done
data=$(cifar10_dir)
for seed in $CNN4_SEEDS; do
  fa_run "$RUNS/half_prec_cnn4/fgsm_bf16_seed$seed" $(cnn4_command_flags "$data") $(method_flags fgsm) --half_prec \
    --seed="$seed"
done
