#!/usr/bin/env bash
# net.sh with the guest on standard virtual hardware: build/guest/kernel-pvh.elf under QEMU
# (-accel kvm, q35, PVH boot, virtio-net on a tap on the bridge). The same clients, the same checks.
. "$(dirname "$0")/tap.bash"
require_net
LM_GUEST_PLATFORM=pvh bash "$(dirname "$0")/net.sh"
