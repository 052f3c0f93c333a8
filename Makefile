# Laundromat top-level build. `make help` lists the targets; V=1 shows full commands.
BUILD    := build
CC       ?= cc
FUZZCC   ?= clang
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 $(WARN) -D_GNU_SOURCE -Iinclude -MMD -MP
LDLIBS   := -lsodium -lzstd

ifeq ($(V),1)
Q :=
else
Q := @
endif

.DEFAULT_GOAL := all
.SECONDARY:
.PHONY: all deps test fuzz bench demo clean format help

include lib/lib.mk
include tools/tools.mk
include guest/guest.mk
include guest/sodium.mk
include guest/zstd.mk
include guest/kernel.mk
include bootloader/bootloader.mk
include host/host.mk
include broker/broker.mk
include tests/tests.mk

all: $(LIB) $(TOOLS) $(HOST_BINS) $(BROKER) $(UNIT_TESTS)

help:
	@echo "make deps    install Debian packages and fetch source packages (idempotent)"
	@echo "make         build library, tools and tests into $(BUILD)/"
	@echo "make test    deps + build + every test; last line 'N passed, N failed'"
	@echo "make fuzz    deps + libFuzzer targets (ASan+UBSan), each run for FUZZ_SECONDS"
	@echo "make bench   deps + benchmarks; report in $(BUILD)/bench/report.txt"
	@echo "make demo    deps + build + the product's story end to end"

deps:
	$(Q)bash tools/deps.sh

# What `make deps` fetched: tools/deps.sh touches build/third_party/.<package>.ok once a source
# package is unpacked. A rule that reads a fetched tree depends on its stamp, never on a
# $(wildcard) of it: make takes those when it reads the Makefile, before deps has run. Targets
# that run deps (test, demo, bench, fuzz) build in a make started after it, which reads the
# Makefile again: compilers and sources are there by then.
$(BUILD)/third_party/.%.ok:
	@echo "$(BUILD)/third_party/$* is missing: run 'make deps' first" >&2
	@exit 1

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC $<")
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

clean:
	rm -rf $(BUILD)/lib $(BUILD)/tools $(BUILD)/tests $(BUILD)/bin $(BUILD)/fuzz $(BUILD)/bench

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

# Dependency files are written beside their objects, so one missing only means its object is
# missing too. Not in the fetched trees, whose files are not ours to include.
-include $(shell find $(BUILD) -path $(BUILD)/third_party -prune -o -name '*.d' -print 2>/dev/null)

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)bash tools/demo.sh
