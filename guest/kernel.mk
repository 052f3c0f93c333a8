# The guest kernel: build/guest/kernel.elf (platform, arch, kernel, net, apps + libkc + lwIP).
GK_DIRS   := guest/kernel guest/arch/x86_64 guest/platform/kvm guest/net guest/apps
GK_SRCS   := $(foreach d,$(GK_DIRS),$(wildcard $(d)/*.c))
GK_ASM    := $(foreach d,$(GK_DIRS),$(wildcard $(d)/*.S))
GK_OBJS   := $(GK_SRCS:%.c=$(BUILD)/guest/obj/%.o) $(GK_ASM:%.S=$(BUILD)/guest/obj/%.o)
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

$(GUEST_KERNEL): $(GK_OBJS) $(GUEST_LIBS) guest/guest.ld
	@$(if $(Q),echo "  LD $@")
	$(Q)$(GUEST_CC) -nostdlib -static -no-pie -Wl,-T,guest/guest.ld -Wl,--build-id=none \
	    -Wl,-z,max-page-size=4096 -Wl,--no-warn-rwx-segments -o $@ $(GK_OBJS) $(LWIP_LIB) \
	    $(KC_LIB) $(shell $(GUEST_CC) -print-libgcc-file-name)

all: $(GUEST_KERNEL)
