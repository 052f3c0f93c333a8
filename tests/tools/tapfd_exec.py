#!/usr/bin/env python3
# Opens a tap device the way a parent (Evil Man) would, then execs lm-vmm with the open
# descriptor: lm-vmm --tap-fd N. Usage: tapfd_exec.py TAPNAME lm-vmm [ARGS...]
import fcntl, os, struct, sys

TUNSETIFF, IFF_TAP, IFF_NO_PI = 0x400454CA, 0x0002, 0x1000
name, argv = sys.argv[1], sys.argv[2:]
fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
os.set_inheritable(fd, True)
os.execv(argv[0], argv[:1] + ["--tap-fd", str(fd)] + argv[1:])
