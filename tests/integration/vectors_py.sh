#!/usr/bin/env bash
# Independent cross-check of the test vectors in Python's standard library.
exec python3 "${LM_TOP:-$(dirname "$0")/../..}/tests/vectors/check_vectors.py"
