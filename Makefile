# Makefile — the two commands of the README (make run, make test) and their
# friends. Installs missing Debian packages first (needs root or sudo), then
# drives CMake. BUILD, JOBS and CMAKE_ARGS may be overridden.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_ARGS ?=
PY ?= /usr/bin/python3
LISTEN ?= 127.0.0.1:8080
DATA_DIR ?= var
# PyPI tools for tests (openapi-spec-validator), in their own venv
TOOLS_VENV ?= .venv-tools

DEB_PKGS := build-essential cmake ninja-build pkg-config ccache libmicrohttpd-dev libcjson-dev \
            libuv1-dev libdnnl-dev zlib1g-dev libdeflate-dev python3 python3-venv python3-numpy python3-scipy python3-pywt \
            python3-torch python3-yaml python3-requests prometheus wrk curl
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps configure build test test-all run bench bench-http clean

all: build

# Installs only what is missing, so a warm machine pays one dpkg query.
deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
	  grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi
	@[ -x $(TOOLS_VENV)/bin/openapi-spec-validator ] || { $(PY) -m venv $(TOOLS_VENV) && \
	  $(TOOLS_VENV)/bin/pip install -q openapi-spec-validator; }

$(BUILD)/build.ninja: | deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DCONVOY_PYTHON=$(PY) \
	  -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCONVOY_OPENAPI_VALIDATOR=$(CURDIR)/$(TOOLS_VENV)/bin/openapi-spec-validator \
	  $(CMAKE_ARGS)

configure: $(BUILD)/build.ninja

build: deps configure
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest -LE "gpu|slow" --output-on-failure -j $(JOBS)

test-all: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

run: build
	$(BUILD)/bin/convoyd --listen $(LISTEN) --data-dir $(DATA_DIR)

bench: build
	$(PY) loadtest/ops/bench.py --convoy $(BUILD)/bin/convoy

# HTTP benchmarks: convoyd beside bare libmicrohttpd peers, batching, large bodies.
bench-http: build
	BUILD=$(BUILD) loadtest/http/run_peer_bench.sh
	BUILD=$(BUILD) $(PY) loadtest/http/bench_batching.py
	BUILD=$(BUILD) $(PY) loadtest/http/bench_large.py

clean:
	rm -rf $(BUILD)
