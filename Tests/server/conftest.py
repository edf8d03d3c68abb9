"""Starts real swiftfile runners on SmolLM2 for the HTTP tests.

SWIFTFILE_BIN names the runner (default: .build/release/swiftfile); SWIFTFILE_MODEL the GGUF
(default: .cache/models/SmolLM2-135M-Instruct.Q4_1.gguf, fetched by Tools/fetch-smollm2.sh).
"""
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("SWIFTFILE_BIN", ROOT / ".build/release/swiftfile"))
MODEL = Path(os.environ.get("SWIFTFILE_MODEL", ROOT / ".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"))
API_KEY = "sk-test-key-0123456789"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Runner:
    """One server process and helpers to talk to it."""

    def __init__(self, *extra, wait=True, port=None, notes=False, model=None):
        model = Path(model) if model else MODEL
        if not BIN.exists():
            pytest.fail(f"runner not found at {BIN}: build it (swift build -c release --product swiftfile) or set SWIFTFILE_BIN")
        if not model.exists():
            pytest.fail(f"model not found at {model}: run `make models` (or Tools/fetch-smollm2.sh) or set SWIFTFILE_MODEL")
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = open(ROOT / f".cache/server-test-{self.port}.log", "w+") if (ROOT / ".cache").exists() else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [str(BIN), "-m", str(model), "--port", str(self.port), "-c", "8192", "-np", "4", "--metrics",
             *([] if notes else ["--log-disable"]), *extra],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.first_line = self.process.stdout.readline()
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"runner exited with {self.process.returncode}")
            try:
                status, _, _ = self.request("GET", "/health")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        pytest.fail("runner did not become healthy in time")

    def request(self, method, path, body=None, headers=None, raw=None, timeout=120):
        """Returns (status, headers dict, body bytes) without raising on 4xx/5xx."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers or {})
        if data is not None and "Content-Type" not in (headers or {}):
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def json(self, method, path, body=None, headers=None, raw=None, timeout=120):
        status, headers, data = self.request(method, path, body, headers, raw, timeout)
        return status, headers, json.loads(data) if data else None

    def metrics(self):
        _, _, data = self.request("GET", "/metrics")
        values = {}
        for line in data.decode().splitlines():
            if line and not line.startswith("#"):
                name, value = line.split(" ")
                values[name.split(":", 1)[1]] = float(value)
        return values

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.log is not subprocess.DEVNULL:
            self.log.close()
            # The log of a runner that stopped cleanly on SIGTERM is not needed; any other stays for whoever reads a failure.
            if self.process.returncode == 0 or os.path.getsize(self.log.name) == 0:
                os.remove(self.log.name)


@pytest.fixture(scope="session")
def server():
    runner = Runner()
    yield runner
    runner.stop()


@pytest.fixture(scope="session")
def keyed_server():
    runner = Runner("--api-key", API_KEY)
    yield runner
    runner.stop()
