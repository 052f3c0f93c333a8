#!/usr/bin/env bash
# evilman_churn.sh on the libvirt backend: 200 lifecycles, each a libvirt domain under QEMU
# (the PVH kernel, which exits at once), and nothing left: domains, QEMU processes, taps,
# addresses, the agent's descriptors. Not run in the KVM box (a domain takes seconds to start
# there: an hour); it runs wherever /dev/kvm is.
. "$(dirname "$0")/tap.bash"
require_net # (evilman_churn.sh checks again: this line marks it as a test that runs VMs)
rm -rf "$SCRATCH"
LM_BACKEND=libvirt LM_CHURN=${LM_CHURN:-200} exec bash "$(dirname "$0")/evilman_churn.sh" "$@"
