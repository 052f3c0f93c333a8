# Benchmarks: `make bench` runs each and writes $(BUILD)/bench/report.txt.
BENCH_REPORT := $(BUILD)/bench/report.txt
BENCH_BINS   := $(BUILD)/bench/bench_verify

$(BUILD)/bench/%: $(BUILD)/tests/bench/%.o $(LIB)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

bench: deps $(BENCH_BINS)
	$(Q){ echo "Laundromat benchmark report, $$(date -u +%Y-%m-%dT%H:%M:%SZ), $$(nproc) cores, $$(uname -r)"; \
	  for b in $(BENCH_BINS); do $$b || exit 1; done; } | tee $(BENCH_REPORT)
	@echo "report: $(BENCH_REPORT)"
