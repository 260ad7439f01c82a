#!/usr/bin/env python3
"""Load generators for bench/compare.sh's network workloads (stdlib only).

  netclient.py tcp HOST PORT SECS   connections to HOST:PORT for SECS seconds,
                                    each read to EOF; prints "CONNS BYTES SECS"
  netclient.py dns SERVER NAME SECS A queries for NAME to SERVER:53 over UDP,
                                    one at a time, for SECS seconds; prints
                                    "ANSWERED SECS"

Both are sequential (one request in flight), so they measure the latency of
the path, not the client's parallelism. Run `dns` inside the container's
network namespace (nsenter -n): the resolvers listen on 127.0.0.11 there.
"""
import random
import socket
import struct
import sys
import time


def tcp(host, port, secs):
    conns = total = 0
    start = time.monotonic()
    end = start + secs
    while time.monotonic() < end:
        with socket.create_connection((host, port), timeout=5) as s:
            while True:
                b = s.recv(1 << 16)
                if not b:
                    break
                total += len(b)
        conns += 1
    print(conns, total, round(time.monotonic() - start, 3))


def query(name, qid):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for part in name.split("."):
        q += bytes([len(part)]) + part.encode()
    return q + b"\x00" + struct.pack(">HH", 1, 1)


def dns(server, name, secs):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.connect((server, 53))
    answered = 0
    start = time.monotonic()
    end = start + secs
    while time.monotonic() < end:
        qid = random.randrange(1 << 16)
        s.send(query(name, qid))
        while True:
            r = s.recv(512)
            if struct.unpack(">H", r[:2])[0] == qid:
                break
        # flags: QR set, RCODE 0, at least one answer
        flags, _, ancount = struct.unpack(">HHH", r[2:8])
        if flags & 0x8000 and flags & 0xF == 0 and ancount > 0:
            answered += 1
        else:
            sys.exit(f"dns: {name} not answered (flags {flags:#x}, {ancount} answers)")
    print(answered, round(time.monotonic() - start, 3))


if __name__ == "__main__":
    kind, args = sys.argv[1], sys.argv[2:]
    if kind == "tcp":
        tcp(args[0], int(args[1]), float(args[2]))
    elif kind == "dns":
        dns(args[0], args[1], float(args[2]))
    else:
        sys.exit(__doc__)
