# Fuzz targets (libFuzzer + ASan/UBSan): one per parser, the library rebuilt with the same flags.
# make fuzz-build    targets in $(BUILD)/fuzz/, seeds in $(BUILD)/fuzz/seeds/<target>/
# make fuzz          runs each target FUZZ_SECONDS; corpus in $(BUILD)/fuzz/corpus/<target>/
FUZZ_DIR      := $(BUILD)/fuzz
FUZZ_NAMES    := fuzz_token fuzz_ping fuzz_payment fuzz_keyfile fuzz_elf fuzz_reqsig fuzz_admit \
                 fuzz_payload fuzz_migrec fuzz_guestctl fuzz_http fuzz_ckpt fuzz_location \
                 fuzz_pressure fuzz_netaddr fuzz_hostchan fuzz_ring fuzz_hostctl
FUZZ_BINS     := $(FUZZ_NAMES:%=$(FUZZ_DIR)/%)
FUZZ_SAN      := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -g -O1
FUZZ_CFLAGS   := -std=c11 $(WARN) -D_GNU_SOURCE -Iinclude -MMD -MP $(FUZZ_SAN)
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(FUZZ_DIR)/obj/%.o)
FUZZ_LIB      := $(FUZZ_DIR)/obj/liblaundromat-fuzz.a
FUZZ_MKSEEDS  := $(FUZZ_DIR)/tools/mkseeds
FUZZ_SEEDS    := $(FUZZ_DIR)/seeds/.stamp
FUZZ_SECONDS  ?= 60

.PHONY: fuzz-build fuzz

fuzz-build: $(FUZZ_BINS) $(FUZZ_SEEDS)

# deps (clang, compiler-rt) first, then the build in a make started after it.
fuzz: deps
	$(Q)$(MAKE) --no-print-directory fuzz-build
	$(Q)BUILD=$(BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/fuzz/run.sh $(FUZZ_NAMES)

# Library and target objects, instrumented; kept apart from the normal build's objects.
$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZCC $<")
	$(Q)$(FUZZCC) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_LIB): $(FUZZ_LIB_OBJS)
	@$(if $(Q),echo "  AR $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(FUZZ_BINS): $(FUZZ_DIR)/%: $(FUZZ_DIR)/obj/tests/fuzz/%.o $(FUZZ_LIB)
	@$(if $(Q),echo "  FUZZLD $@")
	$(Q)$(FUZZCC) $(FUZZ_SAN) -o $@ $(filter %.o,$^) $(FUZZ_LIB) $(LDLIBS)

# fuzz_admit drives Evil Man's admission path: its own sources, instrumented like the library.
FUZZ_HOST_SRCS := host/ping.c host/replay.c host/ratelimit.c
FUZZ_HOST_OBJS := $(FUZZ_HOST_SRCS:%.c=$(FUZZ_DIR)/obj/%.o)
$(FUZZ_HOST_OBJS) $(FUZZ_DIR)/obj/tests/fuzz/fuzz_admit.o: FUZZ_CFLAGS += -Ihost
$(FUZZ_DIR)/fuzz_admit: $(FUZZ_HOST_OBJS)

# fuzz_pressure drives the parsers of the host's /proc figures (host/pressure.c), instrumented.
$(FUZZ_DIR)/obj/host/pressure.o $(FUZZ_DIR)/obj/tests/fuzz/fuzz_pressure.o: FUZZ_CFLAGS += -Ihost
$(FUZZ_DIR)/fuzz_pressure: $(FUZZ_DIR)/obj/host/pressure.o

# fuzz_ring drives the monitor's NIC rings (host/vmm/net_tap.c), instrumented.
$(FUZZ_DIR)/obj/host/vmm/net_tap.o $(FUZZ_DIR)/obj/tests/fuzz/fuzz_ring.o: FUZZ_CFLAGS += -Ihost/vmm
$(FUZZ_DIR)/fuzz_ring: $(FUZZ_DIR)/obj/host/vmm/net_tap.o

# fuzz_http drives the broker's HTTP front, fuzz_location its location reports past the
# signature check (http_serve): the broker's sources but main.c, instrumented, and its
# libraries (libmicrohttpd, jansson, SQLite as they are).
FUZZ_BROKER_OBJS := $(filter-out %/broker/main.o,$(BROKER_SRCS:%.c=$(FUZZ_DIR)/obj/%.o))
FUZZ_BROKER_BINS := $(FUZZ_DIR)/fuzz_http $(FUZZ_DIR)/fuzz_location
$(FUZZ_BROKER_OBJS) $(FUZZ_BROKER_BINS:$(FUZZ_DIR)/%=$(FUZZ_DIR)/obj/tests/fuzz/%.o): \
    FUZZ_CFLAGS += -Ibroker
$(FUZZ_BROKER_BINS): $(FUZZ_BROKER_OBJS)
$(FUZZ_BROKER_BINS): LDLIBS += $(BROKER_LIBS)

# The seed generator is a plain program (not a fuzz_* name: tests/run.sh runs those).
$(FUZZ_DIR)/tools/mkseeds.o: tests/fuzz/mkseeds.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC $<")
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(FUZZ_MKSEEDS): $(FUZZ_DIR)/tools/mkseeds.o $(LIB)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(FUZZ_SEEDS): $(FUZZ_MKSEEDS)
	@$(if $(Q),echo "  SEEDS $(@D)")
	$(Q)rm -rf $(@D) && mkdir -p $(@D) && $(FUZZ_MKSEEDS) $(@D) && touch $@
