#!/usr/bin/env python3
# Sends raw datagrams to a UDP port and prints the answers' status codes (or "none"):
# for tests of what a host agent does with malformed, truncated, oversized and repeated pings.
# Usage: udp_send.py HOST PORT HEXFILE|-hex HEX [REPEAT]   prints one line per send:
#   "status N" (a ping reply's u16 status, 0 = admitted), "reply HEX" for other answers, "none".
# UDP_SEND_GAP_S: seconds to wait between an answer and the next send (default 0).
import os, socket, struct, sys, time

host, port, src = sys.argv[1], int(sys.argv[2]), sys.argv[3]
data = bytes.fromhex(sys.argv[4]) if src == "-hex" else open(src, "rb").read()
repeat = int(sys.argv[5] if src == "-hex" and len(sys.argv) > 5 else
             sys.argv[4] if src != "-hex" and len(sys.argv) > 4 else 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.0)
gap = float(os.environ.get("UDP_SEND_GAP_S", "0"))
for i in range(repeat):
    if i and gap:
        time.sleep(gap)
    s.sendto(data, (host, port))
    try:
        ans, _ = s.recvfrom(2048)
    except socket.timeout:
        print("none")
        continue
    if len(ans) == 64 and ans[:4] == b"LMPR":
        print("status", struct.unpack_from("<H", ans, 6)[0], ans.hex())
    else:
        print("reply", ans.hex())
