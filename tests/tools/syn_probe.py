#!/usr/bin/env python3
"""Sends one hand-made TCP SYN on an interface (AF_PACKET: the frame carries no offload mark,
so a guest behind a tap must check its checksum itself) and says whether a SYN-ACK came back.

usage: syn_probe.py IFACE DST_IP DST_PORT good|bad
  Source: IFACE's own MAC and IPv4 address, a random port. The destination MAC is learnt with
  the kernel's neighbour table (ping the guest first). Exit 0: a SYN-ACK came within 2 s;
  1: none; 2: usage or setup error.
"""
import fcntl
import random
import socket
import struct
import subprocess
import sys
import time


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def iface_ip(ifname):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    req = struct.pack("256s", ifname.encode()[:15])
    return fcntl.ioctl(s.fileno(), 0x8915, req)[20:24]  # SIOCGIFADDR


def neigh_mac(ifname, ip):
    out = subprocess.run(["ip", "neigh", "show", ip, "dev", ifname], capture_output=True,
                         text=True).stdout.split()
    if "lladdr" not in out:
        return None
    return bytes.fromhex(out[out.index("lladdr") + 1].replace(":", ""))


def main():
    if len(sys.argv) != 5 or sys.argv[4] not in ("good", "bad"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    ifname, dst_ip, dst_port, which = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    dst_mac = neigh_mac(ifname, dst_ip)
    if dst_mac is None:
        print("syn_probe: no neighbour entry for %s on %s (ping it first)" % (dst_ip, ifname),
              file=sys.stderr)
        return 2
    with open("/sys/class/net/%s/address" % ifname) as f:
        src_mac = bytes.fromhex(f.read().strip().replace(":", ""))
    src = iface_ip(ifname)
    dst = socket.inet_aton(dst_ip)
    sport = random.randint(40000, 60000)
    seq = random.getrandbits(32)
    tcp = struct.pack("!HHIIBBHHH", sport, dst_port, seq, 0, 5 << 4, 0x02, 65535, 0, 0)
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    c = csum(pseudo + tcp)
    if which == "bad":
        c ^= 0x5A5A
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), random.getrandbits(16), 0x4000,
                     64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    frame = dst_mac + src_mac + b"\x08\x00" + ip + tcp

    rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    rx.bind((ifname, 0))
    rx.settimeout(0.2)
    tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    tx.bind((ifname, 0))
    tx.send(frame)
    end = time.monotonic() + 2.0
    while time.monotonic() < end:
        try:
            f = rx.recv(2048)
        except socket.timeout:
            continue
        if len(f) < 14 + 20 + 20 or f[23] != 6 or f[26:30] != dst or f[30:34] != src:
            continue
        ihl = (f[14] & 15) * 4
        t = f[14 + ihl:]
        p_src, p_dst, _, ack, _, flags = struct.unpack("!HHIIBB", t[:14])
        if p_src == dst_port and p_dst == sport and flags & 0x12 == 0x12 and ack == (seq + 1) & 0xFFFFFFFF:
            print("syn_probe: SYN-ACK from %s:%d" % (dst_ip, dst_port))
            return 0
    print("syn_probe: no SYN-ACK from %s:%d within 2 s" % (dst_ip, dst_port))
    return 1


if __name__ == "__main__":
    sys.exit(main())
