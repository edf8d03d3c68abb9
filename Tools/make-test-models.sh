#!/usr/bin/env bash
# Generates the synthetic Llama 3 models the tests and benchmarks use into .cache/models/, with the
# shared deterministic generator (same arguments -> same bytes), so a model present is a model done.
#   Tools/make-test-models.sh          tiny F32 model (tests)
#   Tools/make-test-models.sh --bench  also the Llama 3.2 1B-shaped F16, Q8_0 and Q4_0 models
# Prints the path of every model it was asked for.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
testdata="${SWIFTFILE_TESTDATA:-$root/../shared/testdata}"
generator="$testdata/tools/make_synthetic_llama.py"
vocab="$testdata/vocab/ggml-vocab-llama-bpe.gguf"
out="$root/.cache/models"

bench=0
for argument in "$@"; do
    case "$argument" in
        --bench) bench=1 ;;
        -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "make-test-models: unknown argument $argument (expected --bench)" >&2; exit 2 ;;
    esac
done

for needed in "$generator" "$vocab"; do
    if [ ! -f "$needed" ]; then
        echo "make-test-models: missing $needed (set SWIFTFILE_TESTDATA to the shared testdata folder)" >&2
        exit 1
    fi
done

python="$root/.venv/bin/python"
[ -x "$python" ] || python=python3
if ! "$python" -c "import gguf, numpy" 2>/dev/null; then
    echo "make-test-models: $python lacks gguf/numpy (run Tools/setup-venv.sh)" >&2
    exit 1
fi

mkdir -p "$out"

# generate NAME PRESET DTYPE: write .cache/models/NAME unless present.
generate() {
    local target="$out/$1" log
    if [ ! -s "$target" ]; then
        log="$(mktemp)"
        # A temporary name, so an interrupted run never leaves a truncated model that looks done.
        if ! "$python" "$generator" --vocab "$vocab" --preset "$2" --dtype "$3" --out "$target.partial" >"$log" 2>&1; then
            echo "make-test-models: generating $1 failed:" >&2
            cat "$log" >&2
            rm -f "$target.partial" "$log"
            exit 1
        fi
        rm -f "$log"
        mv "$target.partial" "$target"
    fi
    echo "$target"
}

generate tiny-llama3-f32.gguf tiny f32
if [ "$bench" = 1 ]; then
    generate synth-llama3-1b-f16.gguf 1b f16
    generate synth-llama3-1b-q8_0.gguf 1b q8_0
    generate synth-llama3-1b-q4_0.gguf 1b q4_0
fi
