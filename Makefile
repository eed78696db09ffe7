# Freshet: `make demo` and `make test` do all set-up on a fresh Debian 12 machine.
BUILD ?= build
TSAN_BUILD ?= build-tsan
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps build demo test test-tsan bench format clean

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

bench: build
	@./scripts/bench.sh $(BUILD)

format:
	@git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(TSAN_BUILD)
