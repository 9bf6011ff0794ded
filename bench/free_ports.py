#!/usr/bin/env python3
"""Print free loopback ports for the benchmark scripts.

    free_ports.py N            N free TCP ports, space-separated (the kernel picks them)
    free_ports.py --base N     a base port B such that B + 10*i and B + 10*i + 1 (TCP, and UDP
                               for the second: a node's peer port carries gossip) are free for
                               i < N: the layout `photonctl dev up --base-port B` uses

A base is drawn below the kernel's ephemeral range, where clients' own connections take their
local ports: a port the kernel handed to a client moments ago is not free for long there.
"""

import random
import socket
import sys


def _free(port: int, kind: int) -> bool:
    sock = socket.socket(socket.AF_INET, kind)
    try:
        sock.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        sock.close()


def _ephemeral_start() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as handle:
            return int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_base(nodes: int) -> int:
    top = _ephemeral_start() - 10 * nodes - 2
    for _ in range(200):
        base = random.randrange(20000, max(20001, top))
        ports = [base + 10 * i for i in range(nodes)]
        if all(_free(p, socket.SOCK_STREAM) for p in ports) and all(
            _free(p + 1, socket.SOCK_STREAM) and _free(p + 1, socket.SOCK_DGRAM) for p in ports
        ):
            return base
    raise SystemExit("free_ports.py: no free base port found")


if sys.argv[1] == "--base":
    print(free_base(int(sys.argv[2])))
else:
    socks = [socket.socket() for _ in range(int(sys.argv[1]))]
    for sock in socks:
        sock.bind(("127.0.0.1", 0))
    print(" ".join(str(sock.getsockname()[1]) for sock in socks))
