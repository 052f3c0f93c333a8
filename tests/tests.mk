# Tests: cmocka unit tests, integration scripts, fuzz targets and benchmarks.
UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_TESTS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/unit/%)
UNIT_HELP  := $(filter-out $(UNIT_SRCS),$(wildcard tests/unit/*.c))
UNIT_HOBJ  := $(UNIT_HELP:%.c=$(BUILD)/%.o)

$(BUILD)/tests/unit/%: $(BUILD)/tests/unit/%.o $(UNIT_HOBJ) $(LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $(filter %.o,$^) $(LIB) $(LDLIBS) -lcmocka

# Tests of Evil Man's own code link its objects, all but main.c (the loop).
UNIT_HOST_TESTS := $(BUILD)/tests/unit/test_credit $(BUILD)/tests/unit/test_vm_state \
                   $(BUILD)/tests/unit/test_pool $(BUILD)/tests/unit/test_config \
                   $(BUILD)/tests/unit/test_evict
$(UNIT_HOST_TESTS:%=%.o): CFLAGS += -Ihost
$(UNIT_HOST_TESTS): $(filter-out $(BUILD)/host/main.o,$(EVILMAN_OBJS))
$(UNIT_HOST_TESTS): LDLIBS += $(EVILMAN_LIBS)

include tests/fuzz/fuzz.mk
include tests/bench/bench.mk

test: deps
	$(Q)$(MAKE) --no-print-directory all fuzz-build
	$(Q)bash tests/run.sh

$(BUILD)/tests/unit/%.o: CFLAGS += -Ilib -Itests/unit

include tests/guests/guests.mk

# Host-side reference tools used by integration tests.
TEST_TOOLS := $(BUILD)/tests/compute_ref
$(BUILD)/tests/compute_ref: tests/tools/compute_ref.c guest/apps/compute_core.c guest/apps/compute_core.h
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) -std=c11 -O2 $(WARN) -o $@ tests/tools/compute_ref.c guest/apps/compute_core.c
all: $(TEST_TOOLS)
