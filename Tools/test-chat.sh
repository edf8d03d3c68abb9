#!/usr/bin/env bash
# Terminal chat tests: `swiftfile --chat` driven through a pseudo-terminal (pexpect) and with piped stdin.
#   - installs the pinned packages (Tools/requirements-test.txt) into .venv (quiet, idempotent);
#   - fetches SmolLM2 (Tools/fetch-smollm2.sh) and uses $SWIFTFILE_BIN or builds the release runner;
#   - runs pytest on Tests/chat (extra arguments go to pytest).
# The base-model test also needs testdata/models (Tools/make-test-models.sh).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash Tools/setup-venv.sh >/dev/null  # pinned packages: Tools/requirements-test.txt
bash Tools/fetch-smollm2.sh >/dev/null
if [ -z "${SWIFTFILE_BIN:-}" ]; then
    scratch="${SWIFTFILE_SCRATCH:-.build}"
    swift build --scratch-path "$scratch" -c release --product swiftfile >/dev/null
    export SWIFTFILE_BIN="$root/$scratch/release/swiftfile"
fi
exec .venv/bin/python -m pytest -q Tests/chat "$@"
