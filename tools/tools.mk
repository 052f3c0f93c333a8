# Command-line tools: lmctl.
LMCTL_SRCS := $(wildcard tools/lmctl/*.c)
LMCTL_OBJS := $(LMCTL_SRCS:%.c=$(BUILD)/%.o)
LMCTL      := $(BUILD)/bin/lmctl
TOOLS      := $(LMCTL)

$(LMCTL): $(LMCTL_OBJS) $(LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $(LMCTL_OBJS) $(LIB) $(LDLIBS) -ljansson -lcurl
