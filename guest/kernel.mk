# The guest kernel for each platform (guest/platform/<p>/, one interface: platform.h):
#   build/guest/kernel.elf      our monitor (platform/kvm: hypercalls, rings)
#   build/guest/kernel-pvh.elf  standard virtual hardware (platform/pvh: QEMU's PVH boot)
# Each is platform + arch, kernel, net, apps, migration + libkc + lwIP + libsodium + zstd.
# The core (everything but the workloads) on our monitor is shared with the in-VM loader
# (bootloader.mk).
gk_objs = $(patsubst %,$(BUILD)/guest/obj/%.o,$(basename $(foreach d,$(1),$(wildcard $(d)/*.c $(d)/*.S))))
# Shared library code the kernel needs, compiled freestanding.
GK_LIB_SRCS   := lib/chain.c lib/wire.c lib/hash.c lib/hex.c lib/status.c lib/migstream.c lib/payload.c \
                 lib/hostchan.c lib/netfmt.c
GK_COMMON_OBJS := $(call gk_objs,guest/kernel guest/arch/x86_64 guest/net) \
                  $(GK_LIB_SRCS:%.c=$(BUILD)/guest/obj/%.o)
GK_CORE_OBJS  := $(GK_COMMON_OBJS) $(call gk_objs,guest/platform/kvm)
# The kernel alone (not the loader): the workloads and the self-migration engine.
GK_APP_OBJS   := $(call gk_objs,guest/apps guest/mig) $(BUILD)/guest/obj/lib/guestctl.o
GK_OBJS       := $(GK_CORE_OBJS) $(GK_APP_OBJS)
GK_PVH_OBJS   := $(GK_COMMON_OBJS) $(call gk_objs,guest/platform/pvh) $(GK_APP_OBJS)
GK_CFLAGS  = $(GUEST_CFLAGS) -Wshadow -Wstrict-prototypes -Wmissing-prototypes
GUEST_KERNEL := $(BUILD)/guest/kernel.elf
GUEST_KERNEL_PVH := $(BUILD)/guest/kernel-pvh.elf
# Links $@ at LM_LINK_BASE = $(1) from the objects among its prerequisites.
GUEST_LINK = $(GUEST_CC) -nostdlib -static -no-pie -Wl,-T,guest/guest.ld -Wl,--build-id=none \
	    -Wl,--defsym=LM_LINK_BASE=$(1) -Wl,-z,max-page-size=4096 -Wl,--no-warn-rwx-segments \
	    -o $@ $(filter %.o,$^) $(LWIP_LIB) $(SODIUM_LIB) $(ZSTD_LIB) $(KC_LIB) \
	    $(shell $(GUEST_CC) -print-libgcc-file-name)

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
	$(Q)$(call GUEST_LINK,0x100000)

$(GUEST_KERNEL_PVH): $(GK_PVH_OBJS) $(GUEST_LIBS) $(SODIUM_LIB) $(ZSTD_LIB) guest/guest.ld
	@$(if $(Q),echo "  LD $@")
	$(Q)$(call GUEST_LINK,0x100000)

all: $(GUEST_KERNEL) $(GUEST_KERNEL_PVH)

# libsodium's headers are generated at build time; guest objects may include them.
$(GK_OBJS) $(GK_PVH_OBJS): GK_CFLAGS += $(GUEST_SODIUM_CFLAGS) $(GUEST_ZSTD_CFLAGS)
$(GK_OBJS) $(GK_PVH_OBJS): | $(SODIUM_HEADERS)
