#!/usr/bin/env bash
# Terminal chat tests: `swiftfile --chat` driven through a pseudo-terminal (pexpect) and with piped stdin.
#   - installs pexpect and pytest into the repository's .venv (quiet, idempotent);
#   - fetches SmolLM2 (Tools/fetch-smollm2.sh) and uses $SWIFTFILE_BIN or builds the release runner;
#   - runs pytest on Tests/chat (extra arguments go to pytest).
# The base-model test also needs ../shared/testdata (or $SWIFTFILE_TESTDATA).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
[ -x .venv/bin/python ] || bash Tools/setup-venv.sh
if ! .venv/bin/python -c "import pexpect, pytest" >/dev/null 2>&1; then
    .venv/bin/pip install --quiet --disable-pip-version-check pexpect pytest
fi
bash Tools/fetch-smollm2.sh >/dev/null
if [ -z "${SWIFTFILE_BIN:-}" ]; then
    scratch="${SWIFTFILE_SCRATCH:-.build}"
    swift build --scratch-path "$scratch" -c release --product swiftfile >/dev/null
    export SWIFTFILE_BIN="$root/$scratch/release/swiftfile"
fi
exec .venv/bin/python -m pytest -q Tests/chat "$@"
