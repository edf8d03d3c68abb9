#!/usr/bin/env bash
# HTTP server tests: the official openai client, curl and raw sockets against a real runner on SmolLM2.
#   - installs openai and pytest into the repository's .venv (quiet, idempotent);
#   - fetches SmolLM2 (Tools/fetch-smollm2.sh) and uses $SWIFTFILE_BIN or builds the release runner;
#   - runs pytest on Tests/server (extra arguments go to pytest).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
[ -x .venv/bin/python ] || bash Tools/setup-venv.sh
if ! .venv/bin/python -c "import openai, pytest" >/dev/null 2>&1; then
    .venv/bin/pip install --quiet --disable-pip-version-check openai pytest
fi
bash Tools/fetch-smollm2.sh >/dev/null
if [ -z "${SWIFTFILE_BIN:-}" ]; then
    swift build -c release --product swiftfile >/dev/null
    export SWIFTFILE_BIN="$root/.build/release/swiftfile"
fi
mkdir -p .cache
exec .venv/bin/python -m pytest -q Tests/server "$@"
