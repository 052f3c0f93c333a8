#!/usr/bin/env python3
# Opens a tap device the way a parent (Evil Man) would, with IFF_VNET_HDR (lm-vmm's offload
# header), then execs lm-vmm with the open descriptor: lm-vmm --tap-fd N.
# Usage: tapfd_exec.py [--plain] TAPNAME lm-vmm [ARGS...]; --plain: without IFF_VNET_HDR.
import fcntl, os, struct, sys

TUNSETIFF, IFF_TAP, IFF_NO_PI, IFF_VNET_HDR = 0x400454CA, 0x0002, 0x1000, 0x4000
args = sys.argv[1:]
flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR
if args and args[0] == "--plain":
    flags &= ~IFF_VNET_HDR
    args = args[1:]
name, argv = args[0], args[1:]
fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), flags))
os.set_inheritable(fd, True)
os.execv(argv[0], argv[:1] + ["--tap-fd", str(fd)] + argv[1:])
