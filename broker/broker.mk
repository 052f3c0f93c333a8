# The broker: lm-broker, accounts, credit, token sales and settlement over HTTP + JSON.
BROKER_SRCS := $(wildcard broker/*.c)
BROKER_OBJS := $(BROKER_SRCS:%.c=$(BUILD)/%.o)
BROKER      := $(BUILD)/bin/lm-broker
BROKER_LIBS := -lmicrohttpd -ljansson -lsqlite3 -lpthread

$(BROKER): $(BROKER_OBJS) $(LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $(BROKER_OBJS) $(LIB) $(LDLIBS) $(BROKER_LIBS)
