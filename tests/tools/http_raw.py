#!/usr/bin/env python3
# Raw HTTP/1.1 for the broker's framing and connection-limit tests (what curl will not send).
#
# http_raw.py send PORT [SRC_ADDR]
#   Sends stdin's bytes as they are to 127.0.0.1:PORT and reads until the broker closes or is
#   silent for 5 s. Prints one line per reply, "STATUS ERROR_CODE" (ERROR_CODE "-" when the
#   body has none), then "closed" or "open" (still open after 5 s of silence).
# http_raw.py trickle PORT CONNS SECONDS [again]
#   Keeps CONNS connections from 127.0.0.1, each sending a request line and then one header
#   line a second, never ending the head, for SECONDS or until the broker has closed them all;
#   with "again", a closed connection is opened anew at once (an attacker holding all it can).
#   Prints "tried N refused N cut N held N": connections opened, closed by the broker before a
#   second had passed (over its limits), closed later (the request deadline), still open at the
#   end.
import json, select, socket, sys, time


def replies(data):
    """(status, error code) of each complete reply in data."""
    out = []
    while data.startswith(b"HTTP/"):
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.split(b"\r\n")
        status = lines[0].split(b" ")[1].decode()
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        body, data = rest[:length], rest[length:]
        try:
            code = json.loads(body).get("error") or "-"
        except ValueError:
            code = "-"
        out.append((status, code))
    return out


def send(port, src):
    s = socket.socket()
    if src:
        s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    s.sendall(sys.stdin.buffer.read())
    data, closed = b"", False
    while True:
        r, _, _ = select.select([s], [], [], 5)
        if not r:
            break
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            closed = True
            break
        data += chunk
    for status, code in replies(data):
        print(status, code)
    print("closed" if closed else "open")


def trickle(port, conns, seconds, again):
    live, tried, refused, cut = {}, 0, 0, 0  # socket: when opened
    end, n = time.monotonic() + seconds, 0
    while time.monotonic() < end and (again or live or not tried):
        while (again or tried < conns) and len(live) < conns:
            s = socket.socket()
            tried += 1
            try:
                s.connect(("127.0.0.1", port))
                s.sendall(b"GET /v1/keys HTTP/1.1\r\nHost: broker\r\n")
                live[s] = time.monotonic()
            except OSError:
                refused += 1
                s.close()
        n += 1
        step = time.monotonic() + 1
        while time.monotonic() < step:
            r, _, _ = select.select(list(live), [], [], max(0, step - time.monotonic()))
            for s in r:
                try:
                    gone = not s.recv(4096)
                except OSError:
                    gone = True
                if gone:
                    if time.monotonic() - live.pop(s) < 1:
                        refused += 1
                    else:
                        cut += 1
                    s.close()
            if not live:
                break
        for s in list(live):
            try:
                s.sendall(b"X-Trickle-%d: %d\r\n" % (n, n))
            except OSError:
                pass  # seen as closed on the next read
    print("tried", tried, "refused", refused, "cut", cut, "held", len(live), flush=True)


if sys.argv[1] == "send":
    send(int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None)
else:
    trickle(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5:] == ["again"])
