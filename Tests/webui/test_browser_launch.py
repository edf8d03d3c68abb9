"""Browser launch: the default mode opens the URL with the desktop's opener; --server and --nobrowser never do, nor
does a machine without a desktop session. A fake `xdg-open` first in PATH records what it was asked to open."""
import os
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import BIN, MODEL, free_port

if sys.platform == "darwin":
    pytest.skip("the fake opener stands in for xdg-open (Linux); macOS uses `open`", allow_module_level=True)


def run_runner(tmp_path, flags, environment):
    opener_directory = tmp_path / "bin"
    opener_directory.mkdir(exist_ok=True)
    record = tmp_path / "opened.txt"
    opener = opener_directory / "xdg-open"
    opener.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{record}"\n')
    opener.chmod(0o755)
    env = {key: value for key, value in os.environ.items() if key not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["PATH"] = f"{opener_directory}:{env.get('PATH', '/usr/bin:/bin')}"
    env.update(environment)
    port = free_port()
    process = subprocess.Popen([str(BIN), "-m", str(MODEL), "--port", str(port), "-c", "512", "-np", "1", *flags],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        first_line = process.stdout.readline()
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5).status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        # The opener runs right after the model is ready; give it time to be started (and to not be started).
        deadline = time.time() + 3
        while time.time() < deadline and not record.exists():
            time.sleep(0.05)
        time.sleep(0.3)
        return first_line, port, record.read_text() if record.exists() else None
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(autouse=True)
def need_binaries():
    if not BIN.exists() or not MODEL.exists():
        pytest.fail(f"need the runner ({BIN}) and the model ({MODEL})")


@pytest.mark.parametrize("environment", [{"DISPLAY": ":0"}, {"WAYLAND_DISPLAY": "wayland-0"}])
def test_default_mode_opens_the_browser_on_a_desktop(tmp_path, environment):
    first_line, port, opened = run_runner(tmp_path, [], environment)
    url = f"http://127.0.0.1:{port}/"
    assert first_line == f"swiftfile: listening on {url}\n"
    assert opened == url + "\n"


@pytest.mark.parametrize("flags, environment", [
    (["--server"], {"DISPLAY": ":0"}),
    (["--nobrowser"], {"DISPLAY": ":0"}),
    ([], {}),
    ([], {"DISPLAY": ""}),
])
def test_no_browser_in_server_mode_with_nobrowser_or_without_desktop(tmp_path, flags, environment):
    first_line, port, opened = run_runner(tmp_path, flags, environment)
    assert first_line == f"swiftfile: listening on http://127.0.0.1:{port}/\n"
    assert opened is None
