#!/usr/bin/env bash
# Fault tests: SIGTERM drains and kill -9 restarts of a busy server, a full disk and signals while packing,
# bundles cut at every sixteenth of their length, split parts run alone.
#   - installs the pinned packages (Tools/requirements-test.txt) into .venv (quiet, idempotent);
#   - needs the release executables (make build) and the models (make models);
#   - runs pytest on Tests/faults (extra arguments go to pytest).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash Tools/setup-venv.sh >/dev/null  # pinned packages: Tools/requirements-test.txt
bash Tools/fetch-smollm2.sh >/dev/null
bash Tools/make-test-models.sh >/dev/null
mkdir -p .cache
exec .venv/bin/python -m pytest -q -p no:cacheprovider Tests/faults "$@"
