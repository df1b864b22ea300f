# Makefile — the familiar verbs over meson/ninja. Everything real lives in meson.build and
# scripts/; `make run` and `make test` do all setup themselves on a fresh Debian 12.
BUILD      ?= build
ASAN_BUILD ?= build-asan
ARGS       ?=

.PHONY: all setup guest run test check format bench clean

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(BUILD)/build.ninja:
	meson setup $(BUILD)

setup:
	scripts/setup.sh

guest: setup
	scripts/build-guest.sh

# Boot the default guest to a shell on this terminal (Ctrl-A x quits).
run: setup guest
	$(MAKE) all
	./$(BUILD)/vessel run $(ARGS)

# The whole suite, normal and sanitizer builds; ends with "N passed, N failed".
test: setup guest
	BUILD=$(BUILD) ASAN_BUILD=$(ASAN_BUILD) scripts/run-tests.sh

format:
	git ls-files '*.c' '*.h' | xargs clang-format -i

bench: guest
	scripts/setup.sh --bench
	$(MAKE) all
	bench/run-all.sh

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
