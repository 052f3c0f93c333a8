# The guest kernel: build/guest/kernel.elf (platform, arch, kernel, net, apps + libkc + lwIP).
# The core (everything but the workloads) is shared with the in-VM loader (bootloader.mk).
GK_CORE_DIRS := guest/kernel guest/arch/x86_64 guest/platform/kvm guest/net
GK_CORE_SRCS := $(foreach d,$(GK_CORE_DIRS),$(wildcard $(d)/*.c))
GK_CORE_ASM  := $(foreach d,$(GK_CORE_DIRS),$(wildcard $(d)/*.S))
GK_CORE_OBJS := $(GK_CORE_SRCS:%.c=$(BUILD)/guest/obj/%.o) $(GK_CORE_ASM:%.S=$(BUILD)/guest/obj/%.o)
# Shared library code the kernel needs, compiled freestanding.
GK_LIB_SRCS  := lib/chain.c lib/wire.c lib/hash.c lib/hex.c lib/status.c lib/migstream.c lib/payload.c
GK_CORE_OBJS += $(GK_LIB_SRCS:%.c=$(BUILD)/guest/obj/%.o)
# The kernel alone (not the loader): the workloads and the self-migration engine.
GK_OBJS      := $(GK_CORE_OBJS) $(patsubst %.c,$(BUILD)/guest/obj/%.o,$(wildcard guest/apps/*.c)) \
                $(patsubst %.c,$(BUILD)/guest/obj/%.o,$(wildcard guest/mig/*.c) lib/guestctl.c)
GK_CFLAGS  = $(GUEST_CFLAGS) -Wshadow -Wstrict-prototypes -Wmissing-prototypes
GUEST_KERNEL := $(BUILD)/guest/kernel.elf

$(BUILD)/guest/obj/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  GUESTCC $<")
	$(Q)$(GUEST_CC) $(GK_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/guest/obj/%.o: %.S
	@mkdir -p $(@D)
	@$(if $(Q),echo "  GUESTAS $<")
	$(Q)$(GUEST_CC) $(GK_CFLAGS) -MMD -MP -c $< -o $@

$(GUEST_KERNEL): $(GK_OBJS) $(GUEST_LIBS) $(SODIUM_LIB) $(ZSTD_LIB) guest/guest.ld
	@$(if $(Q),echo "  LD $@")
	$(Q)$(GUEST_CC) -nostdlib -static -no-pie -Wl,-T,guest/guest.ld -Wl,--build-id=none \
	    -Wl,--defsym=LM_LINK_BASE=0x100000 -Wl,-z,max-page-size=4096 -Wl,--no-warn-rwx-segments -o $@ $(GK_OBJS) $(LWIP_LIB) \
	    $(SODIUM_LIB) $(ZSTD_LIB) $(KC_LIB) $(shell $(GUEST_CC) -print-libgcc-file-name)

all: $(GUEST_KERNEL)

# libsodium's headers are generated at build time; guest objects may include them.
$(GK_OBJS): GK_CFLAGS += $(GUEST_SODIUM_CFLAGS) $(GUEST_ZSTD_CFLAGS)
$(GK_OBJS): | $(SODIUM_HEADERS)
