# Host side: lm-vmm, the per-VM KVM monitor (Evil Man joins here).
VMM_SRCS := $(wildcard host/vmm/*.c)
VMM_OBJS := $(VMM_SRCS:%.c=$(BUILD)/%.o)
VMM      := $(BUILD)/bin/lm-vmm
HOST_BINS := $(VMM)

$(VMM): $(VMM_OBJS) $(LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $(VMM_OBJS) $(LIB) $(LDLIBS) -lseccomp
