#!/usr/bin/env bash
# The broker demo (tools/demo_broker.sh) runs to its end, so it cannot rot unnoticed.
. "$(dirname "$0")/tap.bash"
expect "tools/demo_broker.sh runs to the end" 0 "demo \(broker\): done" -- bash "$TOP/tools/demo_broker.sh"
done_testing
