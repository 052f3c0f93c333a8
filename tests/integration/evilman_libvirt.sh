#!/usr/bin/env bash
# evilman.sh on the libvirt backend: each VM a libvirt domain under QEMU (the embedded driver,
# no daemon), the guest on standard virtual hardware (the PVH loader and kernel).
. "$(dirname "$0")/tap.bash"
require_net # (evilman.sh checks again: this line is what puts the test in the KVM box)
rm -rf "$SCRATCH"
LM_BACKEND=libvirt exec bash "$(dirname "$0")/evilman.sh" "$@"
