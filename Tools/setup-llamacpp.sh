#!/usr/bin/env bash
# Prepares llama.cpp for side-by-side benchmarks (Tools/bench-side-by-side.sh):
#   - a separate venv .cache/llamacpp-venv (not the project's .venv) with a pinned llama-cpp-python, which
#     compiles its bundled llama.cpp from source for this machine (CPU backend, -march=native);
#   - the Debian packages that build needs (cmake, ninja-build, a C/C++ compiler), when running as root.
# The compile takes ~5–15 minutes on 2 cores. Idempotent: a stamp file records what was installed, so a
# second run only checks and exits. Quiet: prints one line when all is well, the failing step's output
# otherwise (the full build log stays in .cache/llamacpp-venv/install.log).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${LLAMACPP_VENV:-$root/.cache/llamacpp-venv}"
python="${PYTHON:-python3}"
# The version known to build here (Python 3.11, GCC 12, CMake 3.25, x86-64); change the pin and nothing else.
requirement="llama-cpp-python==0.3.36"
# CPU build, native ISA; the multimodal library (mtmd) is not needed for text benchmarks and costs build time.
# AMX off: on Xeon hosts whose virtual machine lists AMX but does not grant its tile state, the native build's
# first AMX instruction (tilezero) kills the process with SIGILL. -march=native enables AMX by itself; GCC lets
# an explicit -mno-… win over it wherever it stands on the command line.
no_amx="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
cmake_args="-DLLAVA_BUILD=OFF -DGGML_NATIVE=ON -DCMAKE_C_FLAGS='$no_amx' -DCMAKE_CXX_FLAGS='$no_amx'"
stamp="$venv/.swiftfile-setup"
wanted="$requirement $cmake_args"
log="$venv/install.log"

quietly() {  # run a command; show its output only if it fails
    local out
    out="$(mktemp)"
    if ! "$@" >"$out" 2>&1; then
        echo "setup-llamacpp: failed: $*" >&2
        cat "$out" >&2
        rm -f "$out"
        exit 1
    fi
    rm -f "$out"
}

missing_packages() {
    local missing=()
    command -v cmake >/dev/null 2>&1 || missing+=(cmake)
    command -v ninja >/dev/null 2>&1 || missing+=(ninja-build)
    { command -v cc >/dev/null 2>&1 && command -v c++ >/dev/null 2>&1 && command -v make >/dev/null 2>&1; } \
        || missing+=(build-essential)
    echo "${missing[@]:-}"
}

install_debian_packages() {
    local missing
    missing="$(missing_packages)"
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        # pip can still fetch cmake/ninja wheels for the build, but a compiler is required.
        echo "setup-llamacpp: warning: missing $missing (install them; llama.cpp is compiled from source)" >&2
        return 0
    fi
    # shellcheck disable=SC2086  # word splitting of the package list is intended
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1; then
        quietly apt-get update -qq  # fresh container: empty package lists
        # shellcheck disable=SC2086
        quietly env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
    fi
}

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ] && "$venv/bin/python" -c "import llama_cpp" 2>/dev/null; then
    echo "setup-llamacpp: ready ($venv: $requirement)"
    exit 0
fi

install_debian_packages
mkdir -p "$(dirname "$venv")"
[ -x "$venv/bin/python" ] || quietly "$python" -m venv "$venv"
rm -f "$stamp"
# A build made with other flags (or an older pin) must go, or pip calls the requirement satisfied.
"$venv/bin/python" -m pip uninstall -y -q llama-cpp-python >/dev/null 2>&1 || true
start=$SECONDS
if ! env CMAKE_ARGS="$cmake_args" CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}" \
    "$venv/bin/python" -m pip install --disable-pip-version-check --no-cache-dir -v \
    --no-binary llama-cpp-python "$requirement" >"$log" 2>&1; then
    echo "setup-llamacpp: failed: pip install $requirement (last lines of $log):" >&2
    tail -n 60 "$log" >&2
    exit 1
fi
quietly "$venv/bin/python" -c "import llama_cpp"
echo "$wanted" >"$stamp"
echo "setup-llamacpp: installed ($venv: $requirement, $((SECONDS - start)) s)"
