# Benchmarks: `make bench` runs each and writes $(BUILD)/bench/report.txt.
BENCH_REPORT := $(BUILD)/bench/report.txt
BENCH_BINS   := $(BUILD)/bench/bench_verify

$(BUILD)/bench/%: $(BUILD)/tests/bench/%.o $(LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# The VM benchmarks (tests/bench/bench_vm.sh): its helper programs, the tiny test guest for
# lm-vmm and the PVH kernel for the QEMU peer, and what it measures: lm-vmm and our kernel.
BENCH_SCRIPTS := tests/bench/bench_vm.sh
BENCH_TOOLS   := $(BUILD)/bench/vmprobe $(BUILD)/bench/tcpbench
BENCH_GUESTS  := $(BUILD)/bench/hello.elf $(BUILD)/bench/pvh.elf $(BUILD)/bench/pvh-idle.elf

$(BENCH_TOOLS): $(BUILD)/bench/%: $(BUILD)/tests/bench/%.o
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $<

# tests/guests/hello.c, linked at 1 MiB by our own script (the flags of the guest ABI).
$(BUILD)/bench/hello.elf: tests/guests/hello.c tests/guests/tiny.h tests/bench/tiny.ld \
                          include/laundromat/abi.h
	@mkdir -p $(@D)
	@$(if $(Q),echo "  GUESTLD $@")
	$(Q)$(GUEST_CC) -std=c11 -O2 -Wall -Wextra -ffreestanding -nostdlib -static -fno-pie -no-pie \
	    -mno-red-zone -mgeneral-regs-only -fno-stack-protector -Iinclude \
	    -Wl,-T,tests/bench/tiny.ld -Wl,-z,max-page-size=4096 -Wl,--build-id=none -o $@ $<

# The QEMU peer: a 32-bit PVH kernel that prints a line and exits QEMU (or, -idle, halts).
PVH_LDFLAGS := -m32 -nostdlib -static -no-pie -Wl,-T,tests/bench/pvh/pvh.ld \
               -Wl,-z,max-page-size=4096 -Wl,--build-id=none
$(BUILD)/bench/pvh.elf: tests/bench/pvh/pvh.S tests/bench/pvh/pvh.ld
	@mkdir -p $(@D)
	@$(if $(Q),echo "  GUESTLD $@")
	$(Q)$(GUEST_CC) $(PVH_LDFLAGS) -o $@ $<

$(BUILD)/bench/pvh-idle.elf: tests/bench/pvh/pvh.S tests/bench/pvh/pvh.ld
	@mkdir -p $(@D)
	@$(if $(Q),echo "  GUESTLD $@")
	$(Q)$(GUEST_CC) $(PVH_LDFLAGS) -DPVH_IDLE -o $@ $<

# deps first, then the build in a make started after it (see deps in Makefile).
.PHONY: bench-build
bench-build: $(BENCH_BINS) $(BENCH_TOOLS) $(BENCH_GUESTS) $(VMM) $(GUEST_KERNEL)
bench: deps
	$(Q)$(MAKE) --no-print-directory bench-build
	$(Q)BUILD=$(abspath $(BUILD)) bash tests/bench/run.sh $(BENCH_REPORT) $(BENCH_BINS) \
	    $(BENCH_SCRIPTS)
	@echo "report: $(BENCH_REPORT)"

# Evil Man's benchmarks (tests/bench/bench_host.sh): its probe links the library (the generic
# rule above); what it measures: the agent, the loader, the monitor, the kernel, lmctl.
BENCH_SCRIPTS += tests/bench/bench_host.sh tests/bench/bench_mig.sh tests/bench/bench_ckpt.sh \
                 tests/bench/bench_clusters.sh tests/bench/bench_zstd.sh tests/bench/bench_qemu_mig.sh
BENCH_HOST    := $(BUILD)/bench/emprobe $(EVILMAN) $(LOADER) $(LMCTL) $(LOADER_PVH) \
                 $(GUEST_KERNEL_PVH)

bench-build: $(BENCH_HOST)
