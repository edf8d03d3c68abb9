"""The server's sandbox: once serving, reading a file outside the weights, creating a file, execve and
connecting out fail inside it (the server's own probe reports each outcome), while the API keeps working.
The whole server suite (Tests/server) runs against sandboxed servers, the default."""
import os
import subprocess
import time

import pytest

from conftest import BIN, TINY, Runner

ACTIONS = ("read", "create", "exec /bin/true", "connect 127.0.0.1:9")


def probe_lines(runner, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        runner.log.seek(0)
        lines = [line.strip() for line in runner.log.read().splitlines() if line.startswith("note: sandbox")]
        if sum(1 for line in lines if line.startswith("note: sandbox probe")) >= 2:
            return lines
        time.sleep(0.1)
    pytest.fail("the server printed no sandbox probe lines")


def outcomes(line):
    """{'read': 'Permission denied', …} from one probe line."""
    body = line.split("): ", 1)[1]
    result = {}
    for part in body.split("; "):
        action, _, outcome = part.rpartition(": ")
        result[next(a for a in ACTIONS if action.startswith(a))] = outcome
    return result


def ask(runner):
    status, _, body = runner.json("POST", "/v1/chat/completions",
                                  {"messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 4, "temperature": 0})
    return status, body


def test_forbidden_actions_fail_inside_the_sandboxed_server(tmp_path, monkeypatch):
    outside = tmp_path / "outside.txt"
    outside.write_text("not for the model")
    monkeypatch.setenv("SWIFTFILE_SANDBOX_PROBE", str(outside))
    runner = Runner(notes=True)
    try:
        lines = probe_lines(runner)
        summary = next(line for line in lines if not line.startswith("note: sandbox probe"))
        print("\n".join(lines))
        assert "seccomp (no exec, no new sockets, no writing files)" in summary, summary
        assert "Landlock ABI" in summary, summary
        for line in (l for l in lines if l.startswith("note: sandbox probe")):
            result = outcomes(line)
            assert result["read"] == "Permission denied", line           # Landlock: not the weights
            assert result["create"] == "Operation not permitted", line   # seccomp: no writing
            assert result["exec /bin/true"] == "Operation not permitted", line
            assert result["connect 127.0.0.1:9"] == "Operation not permitted", line
        assert not (tmp_path / "outside.txt.probe").exists()
        status, body = ask(runner)
        assert status == 200, body
        assert body["choices"][0]["finish_reason"] in ("stop", "length")
    finally:
        runner.stop()


def test_unsecure_runs_unconfined(tmp_path, monkeypatch):
    """The same probe without the sandbox: every action succeeds, so the test above measures the sandbox."""
    outside = tmp_path / "outside.txt"
    outside.write_text("readable")
    monkeypatch.setenv("SWIFTFILE_SANDBOX_PROBE", str(outside))
    runner = Runner("--unsecure", notes=True)
    try:
        lines = probe_lines(runner)
        assert not any(line.startswith("note: sandbox:") for line in lines), lines
        for line in lines:
            assert set(outcomes(line).values()) == {"allowed"}, line
        status, body = ask(runner)
        assert status == 200, body
    finally:
        runner.stop()


def test_completion_mode_is_confined_too():
    """A completion run: once generating, every thread has the seccomp filter (Seccomp: 2 in /proc)."""
    process = subprocess.Popen([str(BIN), "-m", str(TINY), "-p", "Once upon a time", "-n", "3000", "-c", "4096",
                                "--temp", "1", "--seed", "1", "--log-disable"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline, states = time.time() + 30, []
        while time.time() < deadline and process.poll() is None:
            try:
                states = [open(f"/proc/{process.pid}/task/{task}/status").read() for task in os.listdir(f"/proc/{process.pid}/task")]
            except OSError:
                states = []
            if len(states) > 1 and all("\nSeccomp:\t2\n" in state for state in states):
                break
            time.sleep(0.05)
        assert process.poll() is None, f"the run ended before it could be inspected: {process.stderr.read()}"
        assert len(states) > 1 and all("\nSeccomp:\t2\n" in state for state in states), "not every thread is filtered"
        assert all("\nNoNewPrivs:\t1\n" in state for state in states)
    finally:
        process.kill()
        process.wait()
