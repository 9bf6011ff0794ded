#!/usr/bin/env python3
"""Print N free loopback TCP ports, space-separated (for the benchmark scripts)."""

import socket
import sys

socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for sock in socks:
    sock.bind(("127.0.0.1", 0))
print(" ".join(str(sock.getsockname()[1]) for sock in socks))
