# The demonstration's setup (scripts/demo.sh), sourced by it and by the experiments that
# repeat it (experiments/half_prec.sh): Fashion-MNIST, the cnn with 1 layer of 16 filters,
# 5 epochs of Adam at a constant 1e-3, eps 51/255, statistics every 200 iterations,
# PGD-50-10 on 1,000 test images at the end. The seed and the method are the caller's.
demo_setup=(--dataset=fmnist --model=cnn --n_layers=1 --n_filters_cnn=16 --epochs=5 --batch_size=128
            --lr_schedule=constant --lr_max=0.001 --eps=51 --eval_iter_freq=200 --n_final_eval=1000)
