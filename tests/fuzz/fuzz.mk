# Fuzz targets (libFuzzer + ASan/UBSan).
.PHONY: fuzz-build
fuzz-build:
