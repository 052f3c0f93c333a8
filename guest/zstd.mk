# zstd for the guest: the compressor (the migrating kernel compresses the pages it sends) and
# the decompressor (the loader inflates them), built freestanding from the fetched Debian
# source into libzstd.a, and its link check. Needs guest/guest.mk included first.
#
# For guest code: compile with $(GUEST_ZSTD_CFLAGS), #include <zstd.h>, link $(ZSTD_LIB)
# before $(KC_LIB). Contexts are static (ZSTD_initStaticCCtx/DCtx on memory the caller owns),
# so zstd's malloc is never called, but its objects name malloc, calloc and free: the kernel's.

ZSTD_TOP := $(BUILD)/third_party/libzstd/src
ZSTD_SRC := $(ZSTD_TOP)/lib

GUEST_ZSTD_CFLAGS := -I$(ZSTD_SRC)

# The library's configuration: no assembly (huf_decompress_amd64.S), no runtime BMI2 dispatch,
# no legacy formats, no debug output, no tracing hooks, no multithreading (never defined), and
# nocpuid.h forced in place of zstd's cpu.h: the guest runs no CPUID. xxhash without stdlib.
# No debug information (-g0): the kernel image, sent whole at injection, would carry 2.4 MiB of
# it for code we do not debug.
ZSTD_CFLAGS := $(GUEST_CFLAGS) -g0 -include guest/zstd/nocpuid.h -DZSTD_DISABLE_ASM -DDYNAMIC_BMI2=0 \
               -DZSTD_LEGACY_SUPPORT=0 -DDEBUGLEVEL=0 -DZSTD_TRACE=0 -DXXH_NO_STDLIB

ZSTD_FILES := $(addprefix common/,entropy_common error_private fse_decompress xxhash zstd_common) \
              $(addprefix compress/,fse_compress hist huf_compress zstd_compress \
                                    zstd_compress_literals zstd_compress_sequences \
                                    zstd_compress_superblock zstd_double_fast zstd_fast \
                                    zstd_lazy zstd_ldm zstd_opt) \
              $(addprefix decompress/,huf_decompress zstd_ddict zstd_decompress \
                                      zstd_decompress_block)
ZSTD_OBJS := $(ZSTD_FILES:%=$(BUILD)/guest/zstd/%.o)
ZSTD_LIB  := $(BUILD)/guest/libzstd.a

# The guest compresses at level 1 (zstd_fast): the lazy and optimal parsers and the long-
# distance matcher are linked (zstd_compress.c names them all) but never run; optimised for
# size they cost 150 KiB less of every injected kernel.
ZSTD_CFLAGS_compress/zstd_lazy := -Os
ZSTD_CFLAGS_compress/zstd_opt  := -Os
ZSTD_CFLAGS_compress/zstd_ldm  := -Os

ZSTD_KERNEL_SYMS := calloc free malloc
ZSTD_LINK_CHECK  := $(BUILD)/guest/zstd-link-check.elf

.PHONY: guest-zstd
guest-zstd: $(ZSTD_LIB) $(ZSTD_LINK_CHECK)
all: $(ZSTD_LIB) $(ZSTD_LINK_CHECK)

$(ZSTD_OBJS): $(BUILD)/guest/zstd/%.o: $(ZSTD_SRC)/%.c guest/zstd/nocpuid.h guest/zstd.mk
	@mkdir -p $(@D)
	@$(if $(Q),echo "  GUESTCC $<")
	$(Q)$(GUEST_CC) $(ZSTD_CFLAGS) $(ZSTD_CFLAGS_$*) -MMD -MP -c $< -o $@

# zstd is fetched, not kept in the tree: say how to get it rather than "no rule to make".
$(ZSTD_SRC)/%.c $(ZSTD_SRC)/%.h:
	@echo "$@ is missing: run 'make deps' to fetch the zstd source" >&2
	@exit 1

$(ZSTD_LIB): $(ZSTD_OBJS) guest/zstd.mk
	@mkdir -p $(@D)
	@$(if $(Q),echo "  AR $@")
	$(Q)rm -f $@ && ar rcs $@ $(filter %.o,$^)

# A whole-archive freestanding link of libzstd.a + libkc.a with only ZSTD_KERNEL_SYMS stubbed
# (complete), nm to show nothing else is needed (exact), and objdump to show the code touches
# no SSE/AVX register and runs no CPUID.
$(ZSTD_LINK_CHECK): $(ZSTD_LIB) $(KC_LIB)
	@$(if $(Q),echo "  LINKCHECK $@")
	$(Q)$(GUEST_CC) -nostdlib -static -no-pie -Wl,-Ttext=0x100000 -Wl,--build-id=none \
	    -Wl,-e,ZSTD_compressCCtx -o $@.tmp \
	    -Wl,--whole-archive $(ZSTD_LIB) -Wl,--no-whole-archive $(KC_LIB) \
	    $(ZSTD_KERNEL_SYMS:%=-Wl,--defsym=%=0) -Wl,--defsym=lm_console_write=0 \
	    -Wl,--defsym=lm_panic=0
	$(Q)nm --defined-only $(ZSTD_LIB) $(KC_LIB) | awk 'NF == 3 { print $$3 }' | sort -u >$@.def
	$(Q)nm -u $(ZSTD_LIB) | awk 'NF == 2 { print $$2 }' | sort -u | comm -23 - $@.def >$@.need
	$(Q)printf '%s\n' $(ZSTD_KERNEL_SYMS) | sort | cmp -s - $@.need || \
	    { echo "zstd link check: the library needs [$$(echo $$(cat $@.need))]," \
	        "ZSTD_KERNEL_SYMS (guest/zstd.mk) says [$(ZSTD_KERNEL_SYMS)]" >&2; exit 1; }
	$(Q)objdump -d --no-show-raw-insn $@.tmp | grep -E '%[xyz]mm[0-9]|\<cpuid\>|\<xgetbv\>' \
	    >$@.simd; [ ! -s $@.simd ] || \
	    { echo "zstd link check: SIMD or CPUID in the guest code (see $@.simd):" >&2; \
	      head -5 $@.simd >&2; exit 1; }
	$(Q)mv $@.tmp $@
