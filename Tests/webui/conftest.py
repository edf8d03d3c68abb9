"""Real-browser tests of the built-in web UI: a real runner on SmolLM2 and headless Chromium driven by Selenium.

SWIFTFILE_BIN names the runner (default: .build/release/swiftfile); SWIFTFILE_MODEL the GGUF (default:
.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf, fetched by Tools/fetch-smollm2.sh). CHROMIUM_BIN and
CHROMEDRIVER_BIN name the browser and its driver (default: Debian's /usr/bin/chromium and /usr/bin/chromedriver).
Screenshots go to .cache/screenshots/ (git-ignored).
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
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("SWIFTFILE_BIN", ROOT / ".build/release/swiftfile"))
MODEL = Path(os.environ.get("SWIFTFILE_MODEL", ROOT / ".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"))
CHROMIUM = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER_BIN", "/usr/bin/chromedriver")
SCREENSHOTS = ROOT / ".cache/screenshots"
API_KEY = "sk-webui-test-4242"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Runner:
    """One `swiftfile --server --nobrowser` process on SmolLM2."""

    def __init__(self, *extra):
        if not BIN.exists():
            pytest.fail(f"runner not found at {BIN}: build it (swift build -c release --product swiftfile) or set SWIFTFILE_BIN")
        if not MODEL.exists():
            pytest.fail(f"model not found at {MODEL}: run Tools/fetch-smollm2.sh or set SWIFTFILE_MODEL")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        (ROOT / ".cache").mkdir(exist_ok=True)
        self.log = open(ROOT / f".cache/webui-runner-{self.port}.log", "w+")
        self.process = subprocess.Popen(
            [str(BIN), "--server", "--nobrowser", "-m", str(MODEL), "--port", str(self.port),
             "-c", "8192", "-np", "2", "--metrics", *extra],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.first_line = self.process.stdout.readline()
        self.wait_ready()

    def wait_ready(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"runner exited with {self.process.returncode}; see {self.log.name}")
            try:
                if self.request("GET", "/health")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        pytest.fail("runner did not become healthy in time")

    def request(self, method, path, body=None, headers=None, timeout=120):
        """Returns (status, body bytes) without raising on 4xx/5xx."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers or {})
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def metric(self, name, headers=None):
        _, data = self.request("GET", "/metrics", headers=headers)
        for line in data.decode().splitlines():
            if line.startswith(f"llamacpp:{name} "):
                return float(line.split(" ")[1])
        raise AssertionError(f"metric {name} missing from /metrics")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        # The log of a runner that stopped cleanly on SIGTERM is not needed; any other stays for whoever reads a failure.
        if self.process.returncode == 0 or os.path.getsize(self.log.name) == 0:
            os.remove(self.log.name)


@pytest.fixture(scope="session")
def runner():
    server = Runner()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def keyed_runner():
    server = Runner("--api-key", API_KEY)
    yield server
    server.stop()


def make_browser(width=1280, height=860, dark=False):
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists():
            pytest.fail(f"{path} not found: install Debian's chromium and chromium-driver (Tools/test-webui.sh does)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--window-size={width},{height}", "--force-device-scale-factor=1", "--lang=en-US",
                     "--no-first-run", "--disable-extensions", "--disable-background-networking"):
        options.add_argument(argument)
    if dark:
        options.add_argument("--force-dark-mode")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    browser.set_page_load_timeout(30)
    return browser


@pytest.fixture
def browser():
    """A fresh headless Chromium (own profile, so localStorage starts empty) per test."""
    driver = make_browser()
    yield driver
    driver.quit()


@pytest.fixture
def phone_browser():
    driver = make_browser(width=390, height=844)
    # Desktop Chromium will not make a window narrower than 500 px; emulate the phone's viewport instead.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
    yield driver
    driver.quit()


def wait_for(browser, condition, timeout=60, message=""):
    return WebDriverWait(browser, timeout, poll_frequency=0.05).until(lambda driver: condition(), message)


def screenshot(browser, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    browser.save_screenshot(str(path))
    return path
