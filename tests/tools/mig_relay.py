#!/usr/bin/env python3
"""A TCP relay between a migrating guest and a destination loader, for fault tests.

    mig_relay.py LISTEN_IP LISTEN_PORT LOADER_IP LOADER_PORT MODE [ARG] [--record FILE]
                 [--on-ready CMD]

It takes one connection, connects to the loader, and copies both ways. MODE says what it does
to the guest -> loader direction, whose layout it knows (docs/PROTOCOL.md): a 24-byte payload
header, a 72-byte hello, a 24-byte secretstream header, then frames (u32 little-endian
length, ciphertext):
  pass            nothing
  flip N          flips one bit of the byte at offset N of the stream
  truncate N      closes both sides after N bytes
  stall N         passes N bytes, then reads no more from the guest and sends nothing more to
                  the loader, keeping both connections open (a destination gone silent: the
                  test kills the loader then)
  drop K          leaves out frame K (0 = the first after the secretstream header)
  swap K          sends frame K+1 before frame K
  losego          passes everything until the loader's READY has gone back, then keeps the
                  guest's next frame (GO) and cuts both connections: the source has sent GO
                  (the relay acknowledged it) and the loader never gets it
  holdgo          passes everything until the loader's READY has gone back, then swallows
                  what the guest sends (GO), keeping both connections open and silent
--record FILE writes the guest -> loader bytes as sent to the loader. --on-ready CMD runs the
shell command CMD when the loader's READY comes, before it goes on to the guest (a test's
hook: a link that starts to lose acknowledgements, say). Prints what it did.
"""
import socket
import struct
import subprocess
import sys
import threading

PREFIX = 24 + 72 + 24


def main():
    args = sys.argv[1:]
    record = None
    if "--record" in args:
        i = args.index("--record")
        record = open(args[i + 1], "wb")
        del args[i:i + 2]
    on_ready = None
    if "--on-ready" in args:
        i = args.index("--on-ready")
        on_ready = args[i + 1]
        del args[i:i + 2]
    lip, lport, dip, dport, mode = args[0], int(args[1]), args[2], int(args[3]), args[4]
    arg = int(args[5]) if len(args) > 5 else 0
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((lip, lport))
    srv.listen(1)
    print("relay: listening on %s:%d, mode %s %d" % (lip, lport, mode, arg), flush=True)
    g, _ = srv.accept()
    srv.close()  # one connection relayed; the port is free for the next relay at once
    d = socket.create_connection((dip, dport))
    # A loader that refuses ends its VM without a FIN: a send to it would block until TCP
    # gives up (minutes). A send that makes no progress for 10 s ends the relay; receives
    # wait on (either side may be silent for long, waiting for the other).
    for s in (g, d):
        s.settimeout(10)

    def recv(s):
        while True:
            try:
                return s.recv(65536)
            except socket.timeout:
                continue

    ready_seen = threading.Event()

    def back():
        got = 0
        try:
            while True:
                b = recv(d)
                if not b:
                    break
                got += len(b)
                if got > 4 + 24 and not ready_seen.is_set():  # past "LMML" and the header: READY
                    if on_ready:
                        rc = subprocess.call(on_ready, shell=True)
                        print("relay: READY: ran %r (status %d)" % (on_ready, rc), flush=True)
                    ready_seen.set()
                g.sendall(b)
        except OSError:
            pass
        try:
            g.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    threading.Thread(target=back, daemon=True).start()
    buf = b""
    sent = 0
    frame = 0
    held = None
    done = False

    def out(b):
        nonlocal sent
        if record:
            record.write(b)
        d.sendall(b)
        sent += len(b)

    try:
        while not done:
            b = recv(g)
            if not b:
                break
            if mode == "pass":
                out(b)
                continue
            if mode == "flip":
                if sent <= arg < sent + len(b):
                    b = bytearray(b)
                    b[arg - sent] ^= 0x10
                    print("relay: flipped a bit at offset %d" % arg, flush=True)
                out(bytes(b))
                continue
            if mode == "stall":
                if sent + len(b) >= arg:
                    out(b[:arg - sent])
                    print("relay: stalled after %d bytes" % arg, flush=True)
                    threading.Event().wait()  # until killed
                out(b)
                continue
            if mode == "truncate":
                if sent + len(b) >= arg:
                    out(b[:arg - sent])
                    print("relay: cut the stream after %d bytes" % arg, flush=True)
                    done = True
                    break
                out(b)
                continue
            # drop / swap: frame by frame after the clear prefix
            buf += b
            if sent < PREFIX:
                n = min(PREFIX - sent, len(buf))
                out(buf[:n])
                buf = buf[n:]
            while sent >= PREFIX and len(buf) >= 4:
                n = 4 + struct.unpack_from("<I", buf)[0]
                if len(buf) < n:
                    break
                f, buf = buf[:n], buf[n:]
                if mode == "holdgo" and ready_seen.is_set():
                    print("relay: swallowed frame %d (GO); both connections kept, silent" % frame, flush=True)
                    frame += 1
                    continue
                if mode == "losego" and ready_seen.is_set():
                    print("relay: held back GO (frame %d) and cut both connections" % frame, flush=True)
                    done = True
                    break
                if mode == "drop" and frame == arg:
                    print("relay: dropped frame %d" % frame, flush=True)
                elif mode == "swap" and frame == arg:
                    held = f
                elif mode == "swap" and frame == arg + 1:
                    out(f)
                    out(held)
                    print("relay: swapped frames %d and %d" % (arg, arg + 1), flush=True)
                else:
                    out(f)
                frame += 1
    except OSError:
        pass
    for s in (g, d):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()
    if record:
        record.close()
    print("relay: done, %d bytes to the loader" % sent, flush=True)


if __name__ == "__main__":
    main()
