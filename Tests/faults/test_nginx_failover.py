"""deploy/nginx/swiftfile.conf in front of two runners: one is killed under load, no non-streamed request fails."""
import json
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from conftest import ROOT, Runner, free_port

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def nginx_config(folder, listen, upstreams):
    """The deploy config with the test's ports, inside a minimal nginx.conf whose files live in `folder`."""
    site = (ROOT / "deploy/nginx/swiftfile.conf").read_text()
    site = site.replace("listen 8080;", f"listen 127.0.0.1:{listen};")
    lines = [line for line in site.splitlines() if "server 127.0.0.1:808" not in line]
    at = next(i for i, line in enumerate(lines) if line.startswith("upstream swiftfile {")) + 1
    lines[at:at] = [f"    server 127.0.0.1:{port} max_fails=1 fail_timeout=10s;" for port in upstreams]
    config = folder / "nginx.conf"
    config.write_text(f"""
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {folder}/access.log;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
{chr(10).join(lines)}
}}
""")
    return config


def chat(port, index, timeout=120):
    body = json.dumps({"messages": [{"role": "user", "content": f"Count to {index % 7 + 3}."}], "max_tokens": 12,
                       "temperature": 0}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", data=body,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.read()[:200]


def test_killing_one_runner_fails_no_request(tmp_path):
    if not os.path.exists(NGINX):
        pytest.fail("nginx is not installed (Tools/setup-venv.sh installs Debian's package)")
    first, second = Runner(), Runner()
    listen = free_port()
    config = nginx_config(tmp_path, listen, [first.port, second.port])
    proxy = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(config), "-g", "daemon off;"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{listen}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail(f"nginx did not come up: {(tmp_path / 'error.log').read_text() if (tmp_path / 'error.log').exists() else ''}")

        results, lock, stop = [], threading.Lock(), threading.Event()

        def client(index):
            n = index
            while not stop.is_set():
                status, body = chat(listen, n)
                with lock:
                    results.append((time.time(), status, body))
                n += 8

        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(8)]
        for thread in threads:
            thread.start()
        time.sleep(4)
        killed_at = time.time()
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(5)
        time.sleep(8)
        stop.set()
        for thread in threads:
            thread.join(60)
        failed = [(status, body) for _, status, body in results if status != 200]
        before = sum(1 for t, _, _ in results if t < killed_at)
        after = sum(1 for t, _, _ in results if t >= killed_at)
        print(f"nginx failover: {len(results)} requests ({before} before the kill, {after} after), {len(failed)} failed")
        assert failed == [], failed[:3]
        assert before > 0 and after > 0
        # Every request went through nginx (it logs a request when it has finished it: allow it a moment).
        deadline = time.time() + 5
        while (tmp_path / "access.log").read_text().count("POST /v1/chat/completions") < len(results) and time.time() < deadline:
            time.sleep(0.05)
        assert (tmp_path / "access.log").read_text().count("POST /v1/chat/completions") == len(results)
    finally:
        proxy.send_signal(signal.SIGQUIT)
        try:
            proxy.wait(10)
        except subprocess.TimeoutExpired:
            proxy.kill()
        for runner in (first, second):
            if runner.process.poll() is None:
                runner.stop()
