# udd — top-level entry points. See README.md.
#   make run    build everything, list the embedded pool, run the examples on it
#   make test   build and run the whole test suite
#   make test-asan  the suite again under AddressSanitizer + UndefinedBehaviorSanitizer
#                   (not the QEMU guest tests: they are static programs, which ASan cannot build)
#   make fuzz [FUZZ_TIME=60]  build the libFuzzer targets (clang) in build-fuzz and run
#               each for FUZZ_TIME seconds; fails on a crash (docs/fuzzing.md)
#   make bench  benchmarks (comparison tables)
#   make install [PREFIX=/usr/local]
# Missing Debian packages are installed first (apt-get, as root), saying so.

BUILD ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
FUZZ_TIME ?= 60
PREFIX ?= /usr/local
CC ?= cc
WERROR ?= ON
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

DEB_PACKAGES := cmake make gcc pkg-config libjson-c-dev libpci-dev pciutils python3 libgnutls28-dev iproute2

.PHONY: all deps build run test test-asan fuzz bench install clean

all: build

deps:
	@missing=""; for p in $(DEB_PACKAGES) $(EXTRA_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make: installing missing Debian packages:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "make: need root to install packages (or install them yourself)"; exit 1; fi; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y --no-install-recommends $$missing >/dev/null 2>&1 || \
	    { apt-get update >/dev/null && apt-get install -y --no-install-recommends $$missing; }; \
	fi

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DUDD_WERROR=$(WERROR) -DCMAKE_INSTALL_PREFIX=$(PREFIX)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

run: build
	@echo "== udd list (the embedded pool) =="
	@$(BUILD)/tools/udd list
	@echo "== examples/edu =="
	@$(BUILD)/examples/edu/edu
	@echo "== examples/pio =="
	@$(BUILD)/examples/pio/pio "hello from udd"
	@echo "== examples/nvme (the simulated NVMe controller) =="
	@$(BUILD)/examples/nvme/nvme_rw

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

test-asan: deps
	cmake -S . -B $(BUILD_ASAN) -DUDD_WERROR=$(WERROR) -DUDD_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
	cmake --build $(BUILD_ASAN) -j$(JOBS)
	cd $(BUILD_ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j$(JOBS) -LE vm

# The fuzzers need clang's libFuzzer; build-fuzz is instrumented throughout.
fuzz: EXTRA_PACKAGES += clang libclang-rt-14-dev
fuzz: deps
	CC=clang cmake -S . -B $(BUILD_FUZZ) -DCMAKE_C_COMPILER=clang -DUDD_WERROR=$(WERROR) \
	  -DUDD_FUZZ=ON -DUDD_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD_FUZZ) -j$(JOBS) --target fuzz_server fuzz_client
	bash tests/fuzz/run_fuzz.sh $(BUILD_FUZZ) $(FUZZ_TIME)

bench: build
	cmake --build $(BUILD) --target bench

# PREFIX from the command line or the environment wins over the prefix the
# build was configured with (the cache keeps the first one); without it the
# configured prefix is used.
INSTALL_PREFIX_ARG := $(if $(filter file,$(origin PREFIX)),,--prefix "$(PREFIX)")

install: build
	cmake --install $(BUILD) $(INSTALL_PREFIX_ARG)

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)
