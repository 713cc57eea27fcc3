# Thin wrapper over CMake. `make test` is the test command of the README and CI.
BUILD ?= build
ASAN_BUILD ?= build-asan
VALGRIND_BUILD ?= build-valgrind
JOBS ?= 2

.PHONY: all setup build demo test test-asan test-valgrind bench fixtures clean

all: build

setup:
	scripts/setup.sh

build: setup
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DFA_WERROR=ON >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

# The main job: FGSM vs FGSM + GradAlign on Fashion-MNIST, PGD-50-10, a table.
demo: build
	scripts/demo.sh runs/demo

# The test command: installs what it needs, builds with warnings as errors,
# runs every test, then the same suite under ASan + UBSan (less the MPI
# tests, label mpi: several processes under mpirun, Release only), then a
# short end-to-end run under valgrind.
test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	$(MAKE) test-asan
	$(MAKE) test-valgrind

test-asan: setup
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DFA_WERROR=ON -DFA_SANITIZE=ON >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j $(JOBS) -LE 'slow|mpi'

# Valgrind (memcheck) on a short training run, a resume from its final
# checkpoint (which redoes the final evaluation) and an eval of the saved model
# (docs/RELIABILITY.md). A build
# of its own: -O3 -g without -march=native (valgrind cannot run AVX-512).
VALGRIND = valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite --quiet
VALGRIND_RUN = --dataset=fmnist --model=cnn --n_filters_cnn=2 --epochs=2 --batch_size=16 --debug \
  --eval_iter_freq=4 --n_eval_every_k_iter=16 --attack_iters=2 --n_final_eval=16 --batch_size_eval=16 \
  --grad_align_cos_lambda=0.5 --checkpoint_every=3 --lr_max=0.003 --out_dir=$(VALGRIND_BUILD)/run
test-valgrind: setup
	cmake -S . -B $(VALGRIND_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O3 -g" \
	  -DFA_WERROR=ON >/dev/null
	cmake --build $(VALGRIND_BUILD) -j $(JOBS) --target fastadv
	rm -rf $(VALGRIND_BUILD)/run
	OMP_NUM_THREADS=1 $(VALGRIND) $(VALGRIND_BUILD)/fastadv train $(VALGRIND_RUN)
	OMP_NUM_THREADS=1 $(VALGRIND) $(VALGRIND_BUILD)/fastadv train $(VALGRIND_RUN) \
	  --resume="$$(cd $(VALGRIND_BUILD)/run/checkpoints && ls | sed 's/\.safetensors$$//')"
	OMP_NUM_THREADS=1 $(VALGRIND) $(VALGRIND_BUILD)/fastadv eval --eps=8 --n_eval=16 --batch_size_eval=16 \
	  --attack_iters=2 --n_restarts=1 --out_dir=$(VALGRIND_BUILD)/run \
	  --model_path="$$(ls $(VALGRIND_BUILD)/run/models/*[0-9].safetensors)"

bench: build

# Regenerates the PyTorch float64 reference fixtures (needs python3-torch; the
# plain PyTorch model file also needs PyPI's safetensors, installed with pip if missing).
fixtures:
	FASTADV_SETUP_EXTRA=1 scripts/setup.sh
	for script in gen_fixtures gen_gradalign_fixture gen_step_fixtures gen_optim_fixtures gen_ckpt_fixture gen_apgd_fixtures gen_fab_fixture gen_square_fixture; do \
	  /usr/bin/python3 scripts/$$script.py tests/fixtures || exit 1; done
	/usr/bin/python3 scripts/gen_data_fixtures.py tests/fixtures/data_checks.txt
	/usr/bin/python3 scripts/st_fixture.py write tests/fixtures/st_python.safetensors
	/usr/bin/python3 -c 'import safetensors' 2>/dev/null || \
	  /usr/bin/python3 -m pip install --break-system-packages safetensors
	/usr/bin/python3 scripts/gen_plain_safetensors_fixture.py tests/fixtures

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(VALGRIND_BUILD)
