# The broker: lm-broker, accounts, credit, token sales and settlement over HTTP + JSON.
BROKER_SRCS := $(wildcard broker/*.c)
BROKER_OBJS := $(BROKER_SRCS:%.c=$(BUILD)/%.o)
BROKER      := $(BUILD)/bin/lm-broker
BROKER_LIBS := -lmicrohttpd -ljansson -lsqlite3 -lpthread

$(BROKER): $(BROKER_OBJS) $(LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $(BROKER_OBJS) $(LIB) $(LDLIBS) $(BROKER_LIBS)

# Its unit test links the broker's files but main.c (the pattern rule of tests/tests.mk
# links the library only).
BROKER_CORE := $(filter-out $(BUILD)/broker/main.o,$(BROKER_OBJS))
$(BUILD)/tests/unit/test_broker: $(BUILD)/tests/unit/test_broker.o $(BROKER_CORE) \
		$(BUILD)/tests/unit/testlib.o $(LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) $(BROKER_LIBS) -lcmocka
$(BUILD)/tests/unit/test_broker.o: CFLAGS += -Ibroker
