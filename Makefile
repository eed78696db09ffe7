# Freshet: `make demo` and `make test` do all set-up on a fresh Debian 12 machine.
BUILD ?= build
TSAN_BUILD ?= build-tsan
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 10
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps build demo test test-tsan test-asan fuzz-build fuzz fuzz-smoke bench format clean

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	@./scripts/demo.sh $(BUILD)/freshet

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

$(TSAN_BUILD)/build.ninja:
	cmake -S . -B $(TSAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DFRESHET_TSAN=ON -DFRESHET_NATIVE=OFF -DFRESHET_BUILD_BENCH=OFF

# ThreadSanitizer build of the concurrent layers (the embedding table, the
# serving replica, sync and the checkpoint writer); their tests stop at the
# first race reported, none suppressed. One test at a time: a sanitized
# checkpoint write is slow enough without a second test competing for the cores.
TSAN_TESTS = freshet_table_test freshet_serve_test freshet_sync_test freshet_ckpt_test
test-tsan: deps $(TSAN_BUILD)/build.ninja
	cmake --build $(TSAN_BUILD) -j $(JOBS) --target $(TSAN_TESTS)
	cd $(TSAN_BUILD) && TSAN_OPTIONS=halt_on_error=1 \
	  ctest --output-on-failure -L 'table|serve|sync|ckpt'

$(ASAN_BUILD)/build.ninja:
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DFRESHET_ASAN=ON -DFRESHET_NATIVE=OFF -DFRESHET_BUILD_BENCH=OFF

# AddressSanitizer + UndefinedBehaviorSanitizer build of everything, and every
# test under it: the first report stops the test (halt_on_error, and UBSan
# findings are not recoverable), none suppressed; leaks are reported at exit
# (docs/architecture.md, Tests).
ASAN_ENV = ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
test-asan: deps $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && $(ASAN_ENV) ctest --output-on-failure -j $(JOBS)

# libFuzzer targets (fuzz/), built with clang under ASan + UBSan.
FUZZ_TARGETS = data predict_request manifest delta_batch config
$(FUZZ_BUILD)/build.ninja:
	cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_COMPILER=clang++-14 -DFRESHET_FUZZ=ON -DFRESHET_NATIVE=OFF \
	  -DFRESHET_BUILD_BENCH=OFF
fuzz-build: deps $(FUZZ_BUILD)/build.ninja
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target $(FUZZ_TARGETS:%=%_fuzzer)

# Each target for FUZZ_SECONDS; a crash fails it and leaves the reproducer in
# $(FUZZ_BUILD)/fuzz-artifacts/TARGET/.
fuzz: fuzz-build
	./scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The CI run: every target for FUZZ_SMOKE_SECONDS (5 x 10 s).
fuzz-smoke: fuzz-build
	./scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SMOKE_SECONDS) $(FUZZ_TARGETS)

bench: build
	@./scripts/bench.sh $(BUILD)

format:
	@git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(TSAN_BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
