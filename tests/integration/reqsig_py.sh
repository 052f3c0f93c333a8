#!/usr/bin/env bash
# Independent cross-check of the signed-request vectors (tests/vectors/reqsig.txt) in Python.
exec python3 "${LM_TOP:-$(dirname "$0")/../..}/tests/vectors/check_reqsig.py"
