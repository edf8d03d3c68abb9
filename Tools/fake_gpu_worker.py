#!/usr/bin/env python3
"""A stand-in for swiftfile-gpu in tests on machines without a GPU: it speaks the worker protocol
(GPU/protocol.h) over descriptors 4 (requests) and 5 (replies), reports a device, accepts the load, and
then crashes (SIGSEGV) on the first forward pass, the way a GPU fault would take a real worker down.
"""
import os
import signal
import struct

PROBE, LOAD, FORWARD, QUIT = 1, 2, 3, 4


def reply(status, text):
    os.write(5, struct.pack("<iIQQ232s", status, 0, 1 << 30, 1 << 30, text.encode()[:231]))


while True:
    request = b""
    while len(request) < 16:
        chunk = os.read(4, 16 - len(request))
        if not chunk:
            raise SystemExit(0)
        request += chunk
    op, n, payload = struct.unpack("<IIQ", request)
    if op == PROBE:
        reply(0, "Fake GPU for tests, 1024 MiB")
    elif op == LOAD:
        reply(0, "fake load")
    elif op == FORWARD:
        os.kill(os.getpid(), signal.SIGSEGV)
    else:
        raise SystemExit(0)
