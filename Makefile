# Thin wrapper over CMake. The contract with a new user: `make run`, `make test`.
PREFIX  ?= /usr/local
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
BUILD   ?= build
ASAN    ?= build-asan

.PHONY: all deps build run test test-plain test-asan install bench fuzz clean

all: build

deps:
	@sh scripts/deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPH_WERROR=ON \
	    -DCMAKE_INSTALL_PREFIX=$(PREFIX) > /dev/null
	cmake --build $(BUILD) -j $(JOBS)

# posthornd on its embedded defaults: SMTP 127.0.0.1:2525, POP3
# 127.0.0.1:1100, ./posthorn-data (created on the first run, with a demo
# user whose password is printed once).
run: build
	./$(BUILD)/posthornd $$([ "$$(id -u)" -eq 0 ] && echo --user nobody)

test: test-plain test-asan

test-plain: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: deps
	cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=Debug -DPH_WERROR=ON \
	    -DPH_SANITIZE=ON > /dev/null
	cmake --build $(ASAN) -j $(JOBS)
	cd $(ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    ctest --output-on-failure -j $(JOBS)

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

bench: build
	bench/smtp_sink_bench.sh

fuzz: deps
	CC=clang cmake -S . -B build-fuzz -DPH_FUZZ=ON > /dev/null
	cmake --build build-fuzz -j $(JOBS)

clean:
	rm -rf $(BUILD) $(ASAN) build-fuzz
