#!/usr/bin/env bash
# evilman_migrate.sh on the libvirt backend: the guest on standard virtual hardware (PVH,
# virtio-net) moves itself between libvirt domains on two hosts.
. "$(dirname "$0")/tap.bash"
require_net # (evilman_migrate.sh checks again: this line is what puts the test in the KVM box)
rm -rf "$SCRATCH"
LM_BACKEND=libvirt exec bash "$(dirname "$0")/evilman_migrate.sh" "$@"
