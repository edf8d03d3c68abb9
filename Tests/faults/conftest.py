"""Fault tests: signals and kills against the server, a full disk and signals against the packer, cut bundles.

SWIFTFILE_BIN / SWIFTFILE_PACK_BIN name the executables (default: .build/release/); SWIFTFILE_MODEL the
GGUF the server runs (default: SmolLM2 from Tools/fetch-smollm2.sh); the packer tests use the tiny Q8_0
model of testdata/models (Tools/make-test-models.sh).
"""
import importlib.util
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The server suite's Runner (one server process and helpers), loaded by path: both folders name it conftest.
_spec = importlib.util.spec_from_file_location("server_conftest", ROOT / "Tests/server/conftest.py")
_server = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_server)
Runner = _server.Runner
free_port = _server.free_port

BIN = Path(os.environ.get("SWIFTFILE_BIN", ROOT / ".build/release/swiftfile"))
PACK = Path(os.environ.get("SWIFTFILE_PACK_BIN", ROOT / ".build/release/swiftfile-pack"))
TINY = ROOT / "testdata/models/tiny-llama3-q8_0.gguf"
