#!/usr/bin/env python3
# Sends N random bytes to a TCP echo service and checks they all come back intact.
import socket, sys, hashlib, os, time, threading
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = os.urandom(n)
s = socket.create_connection((host, port), timeout=30)
got = bytearray()
def reader():
    while len(got) < n:
        b = s.recv(1 << 16)
        if not b: break
        got.extend(b)
t0 = time.time()
th = threading.Thread(target=reader); th.start()
s.sendall(data)
th.join()
dt = time.time() - t0
print("sent", n, "received", len(got), "match", bytes(got) == data, "%.2f MB/s" % (n / dt / 1e6))
sys.exit(0 if bytes(got) == data else 1)
