#!/usr/bin/env python3
"""fwprobe.py: UDP and TCP probes for the firewall tests (from a network
namespace, through the firewall guest). Every wait has a deadline.

  fwprobe.py send DST PORT SPORT TEXT [COUNT [SIZE]]
        COUNT datagrams (default 1) of TEXT, padded to SIZE bytes, from
        source port SPORT
  fwprobe.py listen PORT UNTIL MS
        print "listening", then each datagram's text (up to its first
        NUL or space) until one equal to UNTIL; exit 1 at the deadline
  fwprobe.py count PORT IDLE_MS MAX_MS
        print "listening", then, once IDLE_MS pass without a datagram
        after the first (or MAX_MS in all), "DATAGRAMS BYTES"
  fwprobe.py tcp DST PORT TEXT MS
        connect, send TEXT, print what comes back until the peer closes
"""
import socket
import sys
import time


def main(a):
    cmd = a[0]
    if cmd == "send":
        dst, port, sport, text = a[1], int(a[2]), int(a[3]), a[4]
        count = int(a[5]) if len(a) > 5 else 1
        size = int(a[6]) if len(a) > 6 else len(text)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", sport))
        data = text.encode().ljust(size, b" ")
        for _ in range(count):
            s.sendto(data, (dst, port))
        return 0
    if cmd == "listen":
        port, until, ms = int(a[1]), a[2], int(a[3])
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", port))
        print("listening", flush=True)
        end = time.monotonic() + ms / 1000
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return 1
            s.settimeout(left)
            try:
                data, peer = s.recvfrom(65536)
            except socket.timeout:
                return 1
            text = data.split(b" ")[0].decode(errors="replace")
            print("%s from %s:%d" % (text, peer[0], peer[1]), flush=True)
            if text == until:
                return 0
    if cmd == "count":
        port, idle, ms = int(a[1]), int(a[2]) / 1000, int(a[3]) / 1000
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        s.bind(("0.0.0.0", port))
        print("listening", flush=True)
        n = nbytes = 0
        end = time.monotonic() + ms
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            s.settimeout(min(left, idle) if n else left)
            try:
                data = s.recv(65536)
            except socket.timeout:
                break
            n += 1
            nbytes += len(data)
        print(n, nbytes, flush=True)
        return 0
    if cmd == "tcp":
        dst, port, text, ms = a[1], int(a[2]), a[3], int(a[4])
        s = socket.create_connection((dst, port), ms / 1000)
        s.settimeout(ms / 1000)
        s.sendall(text.encode())
        s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            out += b
        print(out.decode(errors="replace"))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
