# Host side: lm-vmm, the per-VM KVM monitor (Evil Man joins here).
VMM_SRCS := $(wildcard host/vmm/*.c) host/tap.c
VMM_OBJS := $(VMM_SRCS:%.c=$(BUILD)/%.o)
VMM      := $(BUILD)/bin/lm-vmm
HOST_BINS := $(VMM)

$(VMM): $(VMM_OBJS) $(LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $(VMM_OBJS) $(LIB) $(LDLIBS) -lseccomp

# Evil Man, the host agent.
EVILMAN_SRCS := $(wildcard host/*.c) $(wildcard host/backend/*.c)
EVILMAN_OBJS := $(EVILMAN_SRCS:%.c=$(BUILD)/%.o)
EVILMAN      := $(BUILD)/bin/evilman
HOST_BINS    += $(EVILMAN)

$(EVILMAN): $(EVILMAN_OBJS) $(LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $(EVILMAN_OBJS) $(LIB) $(LDLIBS) -ljansson
