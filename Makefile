# Laundromat top-level build. `make help` lists the targets; V=1 shows full commands.
BUILD    := build
CC       ?= cc
FUZZCC   ?= clang
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 $(WARN) -D_GNU_SOURCE -Iinclude -MMD -MP
LDLIBS   := -lsodium

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
	@echo "make fuzz    build libFuzzer targets (ASan+UBSan) and run each for FUZZ_SECONDS"
	@echo "make bench   benchmarks; report in $(BUILD)/bench/report.txt"
	@echo "make demo    the product's story end to end"

deps:
	$(Q)bash tools/deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC $<")
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

clean:
	rm -rf $(BUILD)/lib $(BUILD)/tools $(BUILD)/tests $(BUILD)/bin $(BUILD)/fuzz $(BUILD)/bench

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

demo: deps all
	$(Q)bash tools/demo.sh
