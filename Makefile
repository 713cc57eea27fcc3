# Thin wrapper over CMake. `make test` is the test command of the README and CI.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= 2

.PHONY: all setup build demo test test-asan bench fixtures clean

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
# runs every test, then the same suite under ASan + UBSan.
test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	$(MAKE) test-asan

test-asan: setup
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DFA_WERROR=ON -DFA_SANITIZE=ON >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j $(JOBS) -LE slow

bench: build

# Regenerates the PyTorch float64 reference fixtures (needs python3-torch).
fixtures:
	FASTADV_SETUP_EXTRA=1 scripts/setup.sh
	for script in gen_fixtures gen_gradalign_fixture gen_step_fixtures gen_optim_fixtures gen_ckpt_fixture; do \
	  /usr/bin/python3 scripts/$$script.py tests/fixtures || exit 1; done
	/usr/bin/python3 scripts/gen_data_fixtures.py tests/fixtures/data_checks.txt
	/usr/bin/python3 scripts/st_fixture.py write tests/fixtures/st_python.safetensors

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
