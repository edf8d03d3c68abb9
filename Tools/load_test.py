#!/usr/bin/env python3
"""Load test: N concurrent streaming chat clients for T seconds against a swiftfile server on loopback.

Reports requests, failures (errors, truncated streams without [DONE]), aggregate decode tokens/s
(completion tokens / wall time), time to first token (p50, p99) and the server's resident memory after a
warm-up and at the end. Bounded: every request has a timeout and the run stops at T seconds (in-flight
streams are finished, not counted as failures). With --check the exit status is 1 when a request failed or
the resident memory at the end differs from the one after the warm-up by more than --rss-tolerance.

    Tools/load_test.py --clients 16 --seconds 30 --warmup 5 --check   # make test (starts its own runner)
    Tools/load_test.py --clients 64 --seconds 600 --warmup 30          # make soak
    Tools/load_test.py --url http://127.0.0.1:8080 --clients 4        # against a running server
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
    """Returns (completion tokens, seconds to the first content); raises on any failure or truncated stream."""
    body = json.dumps({"messages": [{"role": "user", "content": f"Write a story about {TOPICS[index % len(TOPICS)]}."}],
                       "max_tokens": max_tokens, "temperature": 0.8, "stream": True,
                       "stream_options": {"include_usage": True}})
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    sent, first = time.time(), None
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
                if first is None and any(c.get("delta", {}).get("content") for c in data.get("choices", [])):
                    first = time.time() - sent
        if not done or usage is None:
            raise RuntimeError("truncated stream")
        return usage["completion_tokens"], first
    finally:
        connection.close()


def percentile(values, fraction):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def run(host, port, clients, seconds, max_tokens, pid, timeout, warmup=0.0):
    """`warmup` seconds of load first (not counted), then `seconds` measured; RSS is read between them."""
    started = time.time()
    measure_from = started + warmup
    stop_at = measure_from + seconds
    lock = threading.Lock()
    totals = {"tokens": 0, "requests": 0, "failures": 0, "errors": [], "ttft": []}

    def client(index):
        n = index
        while time.time() < stop_at:
            began = time.time()
            try:
                tokens, first = stream_once(host, port, n, max_tokens, timeout=timeout)
                with lock:
                    if began >= measure_from:
                        totals["tokens"] += tokens
                        totals["requests"] += 1
                        if first is not None:
                            totals["ttft"].append(first)
            except Exception as error:  # every failure is counted and reported, warm-up included
                with lock:
                    totals["failures"] += 1
                    if len(totals["errors"]) < 5:
                        totals["errors"].append(repr(error))
            n += clients

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    time.sleep(max(0.0, measure_from - time.time()))
    rss_warm = rss_kib(pid) if pid else None
    for t in threads:
        t.join()
    wall = time.time() - measure_from
    rss_end = rss_kib(pid) if pid else None
    p50, p99 = percentile(totals["ttft"], 0.5), percentile(totals["ttft"], 0.99)
    return {"clients": clients, "warmup_seconds": warmup, "seconds": round(wall, 1), "requests": totals["requests"],
            "failures": totals["failures"], "completion_tokens": totals["tokens"],
            "decode_tokens_per_second": round(totals["tokens"] / wall, 1),
            "ttft_p50_seconds": p50 and round(p50, 3), "ttft_p99_seconds": p99 and round(p99, 3),
            "rss_after_warmup_mib": rss_warm and round(rss_warm / 1024, 1), "rss_end_mib": rss_end and round(rss_end / 1024, 1),
            "errors": totals["errors"]}


def start_runner(binary, model, parallel, context, queue):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen([binary, "-m", model, "--port", str(port), "-np", str(parallel), "-c", str(context),
                                "--max-queue", str(queue), "--log-disable"],
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
    parser.add_argument("--warmup", type=float, default=0, help="seconds of load before measuring (RSS is read after it)")
    parser.add_argument("--check", action="store_true", help="exit 1 on a failed request or an RSS change beyond --rss-tolerance")
    parser.add_argument("--rss-tolerance", type=float, default=0.10)
    args = parser.parse_args()
    if not (1 <= args.clients <= 1000 and 0 < args.seconds <= 3600):
        sys.exit("--clients must be 1..1000 and --seconds 0..3600")

    process = None
    if args.url:
        host, _, port = args.url.split("//", 1)[-1].rstrip("/").partition(":")
        port, pid = int(port or 80), None
    else:
        process, port = start_runner(args.bin, args.model, args.parallel or min(args.clients, 8), args.context, args.clients)
        host, pid = "127.0.0.1", process.pid
    try:
        result = run(host, port, args.clients, args.seconds, args.max_tokens, pid, args.timeout, args.warmup)
    finally:
        if process:
            process.terminate()
            process.wait(60)
    print(json.dumps(result))
    problems = []
    if result["failures"]:
        problems.append(f"{result['failures']} failed or truncated streams: {result['errors']}")
    if result["requests"] == 0:
        problems.append("no request completed")
    warm, end = result["rss_after_warmup_mib"], result["rss_end_mib"]
    if args.check and warm and end and abs(end - warm) > args.rss_tolerance * warm:
        problems.append(f"resident memory {warm} MiB after the warm-up, {end} MiB at the end (more than ±{args.rss_tolerance:.0%})")
    for problem in problems:
        print(f"load: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
