#!/usr/bin/env bash
# Prepares a machine for the project's Python tools and tests:
#   - .venv at the repository root with every package of Tools/requirements-test.txt (exact pins: gguf and
#     numpy for the tools' independent oracle, pytest, openai, pexpect, selenium, jsonschema and langchain-openai for the suites);
#   - the Debian packages the end-to-end tests call (zip, unzip, time), when running as root.
# Idempotent: a stamp file records what was installed, so a second run only checks and exits.
# Quiet: prints one line when all is well, the failing command's output otherwise.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
python="${PYTHON:-python3}"
requirements="$root/Tools/requirements-test.txt"
stamp="$venv/.swiftfile-setup"
wanted="$(sha256sum "$requirements" | cut -d' ' -f1)"

quietly() {  # run a command; show its output only if it fails
    local log
    log="$(mktemp)"
    if ! "$@" >"$log" 2>&1; then
        echo "setup-venv: failed: $*" >&2
        cat "$log" >&2
        rm -f "$log"
        exit 1
    fi
    rm -f "$log"
}

missing_packages() {
    local missing=()
    command -v zip >/dev/null 2>&1 || missing+=(zip)
    command -v unzip >/dev/null 2>&1 || missing+=(unzip)
    [ -x /usr/bin/time ] || missing+=(time)
    # Tools/arm64-check: run the portable kernels for aarch64 under emulation.
    command -v qemu-aarch64 >/dev/null 2>&1 || missing+=(qemu-user)
    command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || missing+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
    # Tools/build-gpu-worker.sh: CUDA C → PTX without a CUDA toolkit.
    command -v clang-14 >/dev/null 2>&1 || missing+=(clang-14)
    # Tests/faults: two runners behind deploy/nginx/swiftfile.conf; unshare mounts a small tmpfs.
    [ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || missing+=(nginx)
    command -v unshare >/dev/null 2>&1 || missing+=(util-linux)
    echo "${missing[@]:-}"
}

install_debian_packages() {
    local missing
    missing="$(missing_packages)"
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "setup-venv: warning: missing $missing (install them; the end-to-end tests need them)" >&2
        return 0
    fi
    # shellcheck disable=SC2086  # word splitting of the package list is intended
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1; then
        # The package lists are probably empty (fresh container): fetch them once, then retry.
        quietly apt-get update -qq
        # shellcheck disable=SC2086
        quietly env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
    fi
}

install_debian_packages

imports="import gguf, numpy, pytest, openai, pexpect, selenium, jsonschema, langchain_openai"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ] && "$venv/bin/python" -c "$imports" 2>/dev/null; then
    echo "setup-venv: ready ($venv, Tools/requirements-test.txt)"
    exit 0
fi

[ -x "$venv/bin/python" ] || quietly "$python" -m venv "$venv"
quietly "$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$requirements"
quietly "$venv/bin/python" -c "$imports"
echo "$wanted" >"$stamp"
echo "setup-venv: installed ($venv, Tools/requirements-test.txt)"
