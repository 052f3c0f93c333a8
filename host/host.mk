# Host side: lm-vmm, the per-VM KVM monitor (Evil Man joins here).
VMM_SRCS := $(wildcard host/vmm/*.c) host/tap.c
VMM_OBJS := $(VMM_SRCS:%.c=$(BUILD)/%.o)
VMM      := $(BUILD)/bin/lm-vmm
HOST_BINS := $(VMM)

$(VMM): $(VMM_OBJS) $(LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $(VMM_OBJS) $(LIB) $(LDLIBS) -lseccomp

# Evil Man, the host agent, with the backends named in BACKENDS (host/backend/<name>.c): libvirt
# links -lvirt only where it is built.
BACKENDS     ?= kvm libvirt
EVILMAN_SRCS := $(wildcard host/*.c) $(BACKENDS:%=host/backend/%.c)
EVILMAN_OBJS := $(EVILMAN_SRCS:%.c=$(BUILD)/%.o)
EVILMAN      := $(BUILD)/bin/evilman
HOST_BINS    += $(EVILMAN)
EVILMAN_LIBS := -ljansson $(if $(filter libvirt,$(BACKENDS)),-lvirt -lpthread)
$(EVILMAN_OBJS): CFLAGS += $(if $(filter libvirt,$(BACKENDS)),-DLM_BACKEND_LIBVIRT)

$(EVILMAN): $(EVILMAN_OBJS) $(LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $(EVILMAN_OBJS) $(LIB) $(LDLIBS) $(EVILMAN_LIBS)
