#!/usr/bin/env bash
# HTTP server tests: the official openai client, curl and raw sockets against a real runner on SmolLM2.
#   - installs the pinned packages (Tools/requirements-test.txt) into .venv (quiet, idempotent);
#   - fetches SmolLM2 (Tools/fetch-smollm2.sh) and uses $SWIFTFILE_BIN or builds the release runner;
#   - runs pytest on Tests/server (extra arguments go to pytest).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash Tools/setup-venv.sh >/dev/null  # pinned packages: Tools/requirements-test.txt
bash Tools/fetch-smollm2.sh >/dev/null
if [ -z "${SWIFTFILE_BIN:-}" ]; then
    swift build -c release --product swiftfile >/dev/null
    export SWIFTFILE_BIN="$root/.build/release/swiftfile"
fi
mkdir -p .cache
exec .venv/bin/python -m pytest -q Tests/server "$@"
