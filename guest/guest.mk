# Guest build pieces: flags for freestanding guest code, the guest libc (libkc.a), lwIP compiled
# from the fetched source (liblwip.a), a link check of both, and a host-side test of the libc.

GUEST_CC     := gcc
GUEST_CC_INC := $(shell $(GUEST_CC) -print-file-name=include)
LWIP_SRC     := $(BUILD)/third_party/lwip/src

# For all guest code (the kernel builds with these too). The monitor promises no FPU/SSE state
# (-mgeneral-regs-only); the kernel is linked at a fixed address in the low 2 GiB
# (-mcmodel=small, no PIC); no red zone, so exception frames pushed on the kernel stack
# cannot overwrite a leaf function's locals.
GUEST_CFLAGS := -std=c11 -O2 -g -ffreestanding -nostdinc -isystem $(GUEST_CC_INC) \
                -fno-stack-protector -fno-pic -fno-pie -mno-red-zone -mgeneral-regs-only \
                -mcmodel=small -fno-omit-frame-pointer -fno-asynchronous-unwind-tables \
                -Wall -Wextra -Werror -Iguest/libc/include -Iguest/lwip -Iinclude \
                -I$(LWIP_SRC)/src/include
export GUEST_CC GUEST_CFLAGS LWIP_SRC

# Our own libc code also gets the stricter host warnings. No loop-to-memset/memcpy rewriting:
# inside memmove, that would turn the backward copy into a call to memmove itself.
GUEST_LIBC_CFLAGS := $(GUEST_CFLAGS) -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wundef \
                     -fno-tree-loop-distribute-patterns
# lwIP 2.1.3 builds clean with all of these, so it gets them too, -Werror included: a new
# warning from a newer gcc or lwIP is worth a look before it is silenced with a targeted -Wno-.
GUEST_LWIP_CFLAGS := $(GUEST_CFLAGS) -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wundef

KC_LIB   := $(BUILD)/guest/libkc.a
KC_SRCS  := $(wildcard guest/libc/*.c)
KC_OBJS  := $(KC_SRCS:guest/libc/%.c=$(BUILD)/guest/libc/%.o)

# lwIP for NO_SYS=1, raw API, IPv4 with ARP/Ethernet, ICMP, UDP and TCP (see guest/lwip/lwipopts.h).
LWIP_LIB   := $(BUILD)/guest/liblwip.a
LWIP_FILES := $(addprefix core/,init def inet_chksum ip mem memp netif pbuf raw stats sys tcp \
                                tcp_in tcp_out timeouts udp) \
              $(addprefix core/ipv4/,etharp icmp ip4 ip4_addr ip4_frag) \
              netif/ethernet
LWIP_UP_OBJS   := $(LWIP_FILES:%=$(BUILD)/guest/lwip/%.o)
LWIP_PORT_SRCS := $(wildcard guest/lwip/*.c)
LWIP_PORT_OBJS := $(LWIP_PORT_SRCS:guest/lwip/%.c=$(BUILD)/guest/lwip/port/%.o)
LWIP_OBJS      := $(LWIP_UP_OBJS) $(LWIP_PORT_OBJS)

GUEST_LIBS       := $(KC_LIB) $(LWIP_LIB)
GUEST_LINK_CHECK := $(BUILD)/guest/link-check.elf

.PHONY: guest-libs guest-link-check guest-clean
guest-libs: $(GUEST_LIBS)
all: $(GUEST_LIBS) $(GUEST_LINK_CHECK)
clean: guest-clean
guest-clean:
	rm -rf $(BUILD)/guest

$(KC_OBJS): $(BUILD)/guest/libc/%.o: guest/libc/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  GUESTCC $<")
	$(Q)$(GUEST_CC) $(GUEST_LIBC_CFLAGS) -MMD -MP -c $< -o $@

$(LWIP_UP_OBJS): $(BUILD)/guest/lwip/%.o: $(LWIP_SRC)/src/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  GUESTCC $<")
	$(Q)$(GUEST_CC) $(GUEST_LWIP_CFLAGS) -MMD -MP -c $< -o $@

$(LWIP_PORT_OBJS): $(BUILD)/guest/lwip/port/%.o: guest/lwip/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  GUESTCC $<")
	$(Q)$(GUEST_CC) $(GUEST_LIBC_CFLAGS) -MMD -MP -c $< -o $@

# lwIP is fetched, not kept in the tree: say how to get it rather than "no rule to make".
$(LWIP_SRC)/src/%.c:
	@echo "$@ is missing: run 'make deps' to fetch the lwIP source" >&2
	@exit 1

$(KC_LIB): $(KC_OBJS)
$(LWIP_LIB): $(LWIP_OBJS)
$(KC_LIB) $(LWIP_LIB):
	@mkdir -p $(@D)
	@$(if $(Q),echo "  AR $@")
	$(Q)rm -f $@ && ar rcs $@ $^

# What the guest kernel must define for these libraries. The link check proves the list
# complete (a whole-archive freestanding link with only these stubbed) and exact (nm).
GUEST_KERNEL_SYMS := lm_console_write lm_panic lm_random sys_now

guest-link-check: $(GUEST_LINK_CHECK)
$(GUEST_LINK_CHECK): $(GUEST_LIBS)
	@$(if $(Q),echo "  LINKCHECK $@")
	$(Q)$(GUEST_CC) -nostdlib -static -no-pie -Wl,-Ttext=0x100000 -Wl,--build-id=none \
	    -Wl,-e,lwip_init -o $@.tmp \
	    -Wl,--whole-archive $(GUEST_LIBS) -Wl,--no-whole-archive \
	    $(GUEST_KERNEL_SYMS:%=-Wl,--defsym=%=0)
	$(Q)nm --defined-only $(GUEST_LIBS) | awk 'NF == 3 { print $$3 }' | sort -u >$@.def
	$(Q)nm -u $(GUEST_LIBS) | awk 'NF == 2 { print $$2 }' | sort -u | \
	    comm -23 - $@.def >$@.need
	$(Q)printf '%s\n' $(GUEST_KERNEL_SYMS) | sort | cmp -s - $@.need || \
	    { echo "guest link check: the libraries need [$$(echo $$(cat $@.need))]," \
	        "GUEST_KERNEL_SYMS (guest/guest.mk) says [$(GUEST_KERNEL_SYMS)]" >&2; exit 1; }
	$(Q)mv $@.tmp $@

# tests/unit/test_guest_libc: the guest libc compiled for the host, every public name renamed
# with a kc_ prefix so that it links beside glibc and can be compared with it. Built with
# ASan and UBSan: an out-of-bounds write in vsnprintf is exactly the bug this test hunts.
KC_HOST_NAMES  := memcpy memmove memset memcmp memchr strlen strnlen strcmp strncmp strchr \
                  strrchr strstr strcpy strncpy snprintf vsnprintf printf vprintf puts putchar \
                  strtoul strtol atoi abs isdigit isxdigit isspace isalpha isalnum isupper \
                  islower isprint toupper tolower errno abort
KC_HOST_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=all
KC_HOST_CFLAGS := -std=c11 -O2 -g -ffreestanding -nostdinc -isystem $(GUEST_CC_INC) \
                  -Iguest/libc/include -fno-tree-loop-distribute-patterns $(WARN) $(KC_HOST_SAN) \
                  $(foreach n,$(KC_HOST_NAMES),-D$(n)=kc_$(n))
KC_HOST_OBJS   := $(KC_SRCS:guest/libc/%.c=$(BUILD)/tests/unit/guest_libc/%.o)

$(KC_HOST_OBJS): $(BUILD)/tests/unit/guest_libc/%.o: guest/libc/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC $< (host, kc_ names)")
	$(Q)$(GUEST_CC) $(KC_HOST_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/tests/unit/test_guest_libc.o: CFLAGS += $(KC_HOST_SAN)
$(BUILD)/tests/unit/test_guest_libc: $(BUILD)/tests/unit/test_guest_libc.o $(KC_HOST_OBJS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) $(CFLAGS) $(KC_HOST_SAN) -o $@ $^ -lcmocka
