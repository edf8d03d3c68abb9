"""The server under SIGTERM (drain) and kill -9 (restart), with streams in flight."""
import http.client
import json
import signal
import threading
import time

from conftest import Runner  # Tests/server/conftest.py's, through Tests/faults/conftest.py

# What ServerShutdown promises: generations in flight finish within this grace period.
GRACE_SECONDS = 30


class Stream(threading.Thread):
    """One streaming chat completion read event by event; records the events and how the stream ended."""

    def __init__(self, port, max_tokens=48, seed=1):
        super().__init__(daemon=True)
        self.port, self.max_tokens, self.seed = port, max_tokens, seed
        self.events, self.error, self.closed_cleanly = [], None, False
        self.started = threading.Event()

    def run(self):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            body = json.dumps({"messages": [{"role": "user", "content": "Tell me a long story about a lighthouse."}],
                               "max_tokens": self.max_tokens, "temperature": 0.8, "seed": self.seed, "stream": True})
            connection.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            self.status = response.status
            for raw in response:
                line = raw.decode().strip()
                if not line.startswith("data: "):
                    continue
                self.events.append(line[6:])
                if len(self.events) >= 2:
                    self.started.set()
            self.closed_cleanly = True
        except Exception as error:  # the test inspects it
            self.error = error
        finally:
            self.started.set()

    @property
    def finish_reason(self):
        for event in reversed(self.events):
            if event != "[DONE]":
                return json.loads(event)["choices"][0]["finish_reason"]
        return None


def test_sigterm_drains_streams_and_refuses_new_requests():
    runner = Runner()
    try:
        streams = [Stream(runner.port, max_tokens=64, seed=i) for i in range(3)]
        for stream in streams:
            stream.start()
        for stream in streams:
            assert stream.started.wait(30), "stream did not start"
        signalled = time.time()
        runner.process.send_signal(signal.SIGTERM)
        # New work is refused while the old finishes (the listener stays open during the drain).
        refused = None
        deadline = time.time() + 5
        while time.time() < deadline and refused is None:
            status, _, body = runner.request("POST", "/v1/chat/completions",
                                             {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}, timeout=10)
            if status == 503:
                refused = json.loads(body)
            else:
                time.sleep(0.05)
        assert refused is not None, "no 503 during the drain"
        assert "shutting down" in refused["error"]["message"]
        health, _, _ = runner.request("GET", "/health")
        assert health == 503
        for stream in streams:
            stream.join(GRACE_SECONDS + 10)
            assert not stream.is_alive()
            assert stream.error is None, stream.error
            assert stream.events[-1] == "[DONE]", stream.events[-3:]
            assert stream.finish_reason in ("stop", "length"), stream.events[-3:]
        assert runner.process.wait(GRACE_SECONDS + 10) == 0
        drained = time.time() - signalled
        print(f"drain: 3 streams finished and the server exited {drained:.1f} s after SIGTERM")
        assert drained < GRACE_SECONDS
    finally:
        if runner.process.poll() is None:
            runner.process.kill()


def test_second_signal_exits_at_once():
    runner = Runner()
    try:
        stream = Stream(runner.port, max_tokens=2000)
        stream.start()
        assert stream.started.wait(30)
        runner.process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        runner.process.send_signal(signal.SIGINT)
        assert runner.process.wait(5) == 128 + signal.SIGINT
    finally:
        if runner.process.poll() is None:
            runner.process.kill()


def test_kill_9_mid_stream_then_restart_serves():
    runner = Runner()
    port = runner.port
    try:
        stream = Stream(port, max_tokens=2000)
        stream.start()
        assert stream.started.wait(30)
        runner.process.send_signal(signal.SIGKILL)
        runner.process.wait(5)
        stream.join(10)
        assert "[DONE]" not in stream.events, "a killed server cannot have finished the stream"
    finally:
        if runner.process.poll() is None:
            runner.process.kill()
    # The same port again, at once (SO_REUSEADDR): the next request is served.
    restarted = Runner(port=port)
    try:
        status, _, body = restarted.json("POST", "/v1/chat/completions",
                                         {"messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 4, "temperature": 0})
        assert status == 200, body
        assert body["choices"][0]["finish_reason"] in ("stop", "length")
    finally:
        restarted.stop()
