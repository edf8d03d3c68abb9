#!/usr/bin/env python3
"""Load test: N concurrent streaming chat clients for T seconds against a swiftfile server on loopback.

Reports aggregate decode tokens/s (completion tokens / wall time), requests, failures (errors, truncated
streams without [DONE]) and the server's resident memory at start and end. Bounded: every request has a
timeout and the run stops at T seconds (in-flight streams are finished, not counted as failures).

    Tools/load_test.py --clients 8 --seconds 30                    # starts its own runner (SWIFTFILE_BIN)
    Tools/load_test.py --url http://127.0.0.1:8080 --clients 4     # against a running server
"""
import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOPICS = ["the sea", "a robot", "bread", "mountains", "a small town", "the moon", "trains", "music"]


def rss_kib(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None


def stream_once(host, port, index, max_tokens, timeout):
    """Returns completion tokens; raises on any failure or truncated stream."""
    body = json.dumps({"messages": [{"role": "user", "content": f"Write a story about {TOPICS[index % len(TOPICS)]}."}],
                       "max_tokens": max_tokens, "temperature": 0.8, "stream": True,
                       "stream_options": {"include_usage": True}})
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {response.read()[:200]!r}")
        usage, done, buffer = None, False, b""
        while chunk := response.read1(65536):
            buffer += chunk
            while b"\n\n" in buffer:
                event, buffer = buffer.split(b"\n\n", 1)
                if not event.startswith(b"data: "):
                    raise RuntimeError(f"bad SSE frame {event[:80]!r}")
                payload = event[6:]
                if payload == b"[DONE]":
                    done = True
                    continue
                data = json.loads(payload)
                if data.get("usage"):
                    usage = data["usage"]
        if not done or usage is None:
            raise RuntimeError("truncated stream")
        return usage["completion_tokens"]
    finally:
        connection.close()


def run(host, port, clients, seconds, max_tokens, pid, timeout):
    stop_at = time.time() + seconds
    lock = threading.Lock()
    totals = {"tokens": 0, "requests": 0, "failures": 0, "errors": []}

    def client(index):
        n = index
        while time.time() < stop_at:
            try:
                tokens = stream_once(host, port, n, max_tokens, timeout=timeout)
                with lock:
                    totals["tokens"] += tokens
                    totals["requests"] += 1
            except Exception as error:  # every failure is counted and reported
                with lock:
                    totals["failures"] += 1
                    if len(totals["errors"]) < 5:
                        totals["errors"].append(repr(error))
            n += clients

    rss_start = rss_kib(pid) if pid else None
    started = time.time()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.time() - started
    rss_end = rss_kib(pid) if pid else None
    return {"clients": clients, "seconds": round(wall, 1), "requests": totals["requests"], "failures": totals["failures"],
            "completion_tokens": totals["tokens"], "decode_tokens_per_second": round(totals["tokens"] / wall, 1),
            "rss_start_mib": rss_start and round(rss_start / 1024, 1), "rss_end_mib": rss_end and round(rss_end / 1024, 1),
            "errors": totals["errors"]}


def start_runner(binary, model, parallel, context):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen([binary, "-m", model, "--port", str(port), "-np", str(parallel), "-c", str(context), "--log-disable"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/health")
            if c.getresponse().status == 200:
                return process, port
        except OSError:
            pass
        time.sleep(0.2)
    process.kill()
    sys.exit("runner did not become healthy")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="server to load (default: start one)")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--timeout", type=float, default=600, help="seconds a request may take, waiting in the queue included")
    parser.add_argument("--parallel", type=int, help="-np for a started runner (default: clients, at most 8)")
    parser.add_argument("--context", type=int, default=8192, help="-c for a started runner")
    parser.add_argument("--bin", default=os.environ.get("SWIFTFILE_BIN", str(ROOT / ".build/release/swiftfile")))
    parser.add_argument("--model", default=str(ROOT / ".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    args = parser.parse_args()
    if not (1 <= args.clients <= 1000 and 0 < args.seconds <= 3600):
        sys.exit("--clients must be 1..1000 and --seconds 0..3600")

    process = None
    if args.url:
        host, _, port = args.url.split("//", 1)[-1].rstrip("/").partition(":")
        port, pid = int(port or 80), None
    else:
        process, port = start_runner(args.bin, args.model, args.parallel or min(args.clients, 8), args.context)
        host, pid = "127.0.0.1", process.pid
    try:
        result = run(host, port, args.clients, args.seconds, args.max_tokens, pid, args.timeout)
    finally:
        if process:
            process.terminate()
            process.wait(10)
    print(json.dumps(result))
    return 1 if result["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
