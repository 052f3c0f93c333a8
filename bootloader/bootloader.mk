# The in-VM loader: build/bootloader/loader.elf, the guest kernel's core (platform, arch,
# kernel, net) with the loader app, linked into the loader block above RAM.
LOADER_SRCS := $(wildcard bootloader/*.c) guest/apps/tcpout.c lib/elf.c
LOADER_OBJS := $(GK_CORE_OBJS) $(LOADER_SRCS:%.c=$(BUILD)/guest/obj/%.o)
LOADER      := $(BUILD)/bootloader/loader.elf

$(LOADER_SRCS:%.c=$(BUILD)/guest/obj/%.o): GK_CFLAGS += $(GUEST_SODIUM_CFLAGS) $(GUEST_ZSTD_CFLAGS)
$(LOADER_SRCS:%.c=$(BUILD)/guest/obj/%.o): | $(SODIUM_HEADERS)

$(LOADER): $(LOADER_OBJS) $(GUEST_LIBS) $(SODIUM_LIB) $(ZSTD_LIB) guest/guest.ld
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(call GUEST_LINK,0x70000000)

# The same loader on standard virtual hardware (guest/platform/pvh), booted by QEMU.
LOADER_PVH      := $(BUILD)/bootloader/loader-pvh.elf
LOADER_PVH_OBJS := $(GK_COMMON_OBJS) $(call gk_objs,guest/platform/pvh) \
                   $(LOADER_SRCS:%.c=$(BUILD)/guest/obj/%.o)
$(LOADER_PVH): $(LOADER_PVH_OBJS) $(GUEST_LIBS) $(SODIUM_LIB) $(ZSTD_LIB) guest/guest.ld
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(call GUEST_LINK,0x70000000)

all: $(LOADER) $(LOADER_PVH)
