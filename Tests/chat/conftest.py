"""Starts `swiftfile --chat` on SmolLM2 in a pseudo-terminal (pexpect) or with piped stdin.

SWIFTFILE_BIN names the runner (default: .build-tchat/release/swiftfile, then .build/release/swiftfile);
SWIFTFILE_MODEL the GGUF (default: .cache/models/SmolLM2-135M-Instruct.Q4_1.gguf, fetched by
Tools/fetch-smollm2.sh). Greedy decoding (--temp 0) keeps the answers reproducible.
"""
import os
import re
from pathlib import Path

import pexpect
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _default_bin():
    for candidate in (ROOT / ".build-tchat/release/swiftfile", ROOT / ".build/release/swiftfile"):
        if candidate.exists():
            return candidate
    return ROOT / ".build/release/swiftfile"


BIN = Path(os.environ.get("SWIFTFILE_BIN", _default_bin()))
MODEL = Path(os.environ.get("SWIFTFILE_MODEL", ROOT / ".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"))
TESTDATA = Path(os.environ.get("SWIFTFILE_TESTDATA", ROOT / "testdata"))
BASE_MODEL = TESTDATA / "models/tiny-llama3-q8_0-q4emb.gguf"

PROMPT = "> "
# Line-editor redraws: CSI sequences (cursor moves, erase to end of line, colours, bracketed-paste switches).
CSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z~]")

KEY_UP = "\x1b[A"
KEY_DOWN = "\x1b[B"
KEY_LEFT = "\x1b[D"
KEY_RIGHT = "\x1b[C"
KEY_HOME = "\x1b[H"
KEY_END = "\x1b[F"
KEY_DELETE = "\x1b[3~"
CTRL = {letter: chr(ord(letter) - 96) for letter in "abcdekuwl"}


def require_files(*paths):
    if not BIN.exists():
        pytest.fail(f"runner not found at {BIN}: build it (swift build --scratch-path .build-tchat -c release --product swiftfile) or set SWIFTFILE_BIN")
    for path in paths:
        if not path.exists():
            pytest.fail(f"model not found at {path}: run `make models` (Tools/fetch-smollm2.sh, Tools/make-test-models.sh)")


def chat_arguments(model=MODEL, *extra):
    return ["-m", str(model), "--chat", "--temp", "0", "-c", "2048", "-t", "2", "--log-disable", *extra]


class Chat:
    """A chat session in a pseudo-terminal."""

    def __init__(self, *extra, model=MODEL, color=False, tokens=48, log=None):
        require_files(model)
        env = dict(os.environ)
        env.pop("NO_COLOR", None)
        if not color:
            env["NO_COLOR"] = "1"
        env["TERM"] = "xterm-256color"
        self.child = pexpect.spawn(str(BIN), chat_arguments(model, "-n", str(tokens), *extra), env=env,
                                   encoding="utf-8", codec_errors="replace", dimensions=(40, 120), timeout=60)
        self.child.logfile_read = log   # everything the terminal received, for transcripts
        self.child.expect("Ctrl-D or /exit quits")
        self.banner = self.child.before
        self.wait_prompt()

    def wait_prompt(self, timeout=120):
        """Waits for the prompt at the start of a line; returns what came before it, redraws removed."""
        # Every redraw starts with "\r"; only a fresh prompt comes right after a line end (and the switch to
        # bracketed paste).
        self.child.expect(r"\n(\x1b\[\?2004h)?\r(\x1b\[[0-9;]*m)*> ", timeout=timeout)
        return self.plain(self.child.before)

    @staticmethod
    def plain(text):
        return CSI.sub("", text)

    def send_line(self, text):
        self.child.send(text + "\r")

    def ask(self, question, timeout=120):
        """Sends a line and returns the output up to the next prompt."""
        self.send_line(question)
        return self.wait_prompt(timeout)

    def close(self):
        if self.child.isalive():
            self.child.sendline("/exit")
            try:
                self.child.expect(pexpect.EOF, timeout=10)
            except pexpect.TIMEOUT:
                self.child.terminate(force=True)
        self.child.close()


@pytest.fixture
def chat():
    session = Chat()
    yield session
    session.close()
