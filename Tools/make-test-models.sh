#!/usr/bin/env bash
# Puts every fixture the tests read into testdata/ (git-ignored there), from nothing but PyPI:
#   testdata/vocab/   llama.cpp's vocabulary GGUFs and tokenizer vectors (Tools/fetch_vocab.py: from the
#                     llama-cpp-python sdist, SHA-256 checked);
#   testdata/models/  the tiny synthetic Llama 3 models (Tools/make_synthetic_llama.py: deterministic,
#                     and each file's SHA-256 is checked against the pin below, so "same bytes" is tested).
# ../shared/testdata, when present, is only a cache: a file there is used when its hash is the pinned one.
#   Tools/make-test-models.sh          the test fixtures
#   Tools/make-test-models.sh --bench  also the Llama 3.2 1B-shaped F16, Q8_0 and Q4_0 models (.cache/models)
#   Tools/make-test-models.sh --bench-quants  also that F16 model quantized by llama.cpp (Tools/quantize_llamacpp.py)
#                                     into every K-quant and I-quant mixture we bench, and the grid I-quants
#                                     through llama.cpp's block quantizer (needs Tools/setup-llamacpp.sh)
# Prints the path of every model it was asked for.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
testdata="$root/testdata"
generator="$root/Tools/make_synthetic_llama.py"
vocab="$testdata/vocab/ggml-vocab-llama-bpe.gguf"
shared="$root/../shared/testdata"

bench=0 quants=0
for argument in "$@"; do
    case "$argument" in
        --bench) bench=1 ;;
        --bench-quants) bench=1 quants=1 ;;
        -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "make-test-models: unknown argument $argument (expected --bench or --bench-quants)" >&2; exit 2 ;;
    esac
done

python="$root/.venv/bin/python"
[ -x "$python" ] || python=python3
if ! "$python" -c "import gguf, numpy" 2>/dev/null; then
    echo "make-test-models: $python lacks gguf/numpy (run Tools/setup-venv.sh)" >&2
    exit 1
fi

"$python" "$root/Tools/fetch_vocab.py" --out "$testdata/vocab" --downloads "$root/.cache/downloads" \
    --cache "$shared/vocab"

sha() { sha256sum "$1" | cut -d' ' -f1; }

# generate DIR NAME SHA256|- GENERATOR-ARGS...: write DIR/NAME unless it is there with the pinned hash.
generate() {
    local dir="$1" name="$2" pinned="$3" log
    shift 3
    local target="$dir/$name"
    mkdir -p "$dir"
    if [ -s "$target" ] && { [ "$pinned" = - ] || [ "$(sha "$target")" = "$pinned" ]; }; then
        echo "$target"; return 0
    fi
    if [ "$pinned" != - ] && [ -s "$shared/models/$name" ] && [ "$(sha "$shared/models/$name")" = "$pinned" ]; then
        cp "$shared/models/$name" "$target.partial" && mv "$target.partial" "$target"
        echo "$target"; return 0
    fi
    log="$(mktemp)"
    # A temporary name, so an interrupted run never leaves a truncated model that looks done.
    if ! "$python" "$generator" --vocab "$vocab" --out "$target.partial" "$@" >"$log" 2>&1; then
        echo "make-test-models: generating $name failed:" >&2
        cat "$log" >&2
        rm -f "$target.partial" "$log"
        exit 1
    fi
    rm -f "$log"
    if [ "$pinned" != - ] && [ "$(sha "$target.partial")" != "$pinned" ]; then
        echo "make-test-models: $name: generated SHA-256 $(sha "$target.partial"), pinned $pinned" \
             "(the generator or its gguf/numpy pins changed)" >&2
        rm -f "$target.partial"
        exit 1
    fi
    mv "$target.partial" "$target"
    echo "$target"
}

models="$testdata/models"
generate "$models" tiny-llama3-f32.gguf \
    10958e3d694c6af20ddce018f8d917e62dae03f1f051a45f787e0b55da6352b3 --matrices f32
# The two models llama.cpp's golden logits (testdata/goldens) were recorded on.
generate "$models" tiny-llama3-f16-q4emb.gguf \
    d989cf391ca1f9466f58f6ad2faf814d9f012f178ba256d9ae59068abb9c0dea --matrices f16 --embedding q4_0
generate "$models" tiny-llama3-q8_0-q4emb.gguf \
    abf95eed6658d0c9c75f77b447559cd3a2f41101a8e421f7da3cca2c6e3d8c97 --matrices q8_0 --embedding q4_0
# Q8_0 throughout (the tied output too): interleaved and in-place weights must agree bit for bit.
generate "$models" tiny-llama3-q8_0.gguf \
    0d14ee1a41fe767fae81f19feddedeb70b78a3991855607db8ff269e3d06ce94 --matrices q8_0 --embedding q8_0
generate "$models" tiny-llama3-q4_k_m.gguf \
    d91180f36e1f30552998a2b8b5dc50dafddfdb0bc5402cbdfb236572edc1d8e8 --matrices q4_k_m
# The seven grid I-quants (random blocks, see the generator) against testdata/goldens/tiny-llama3-iq-mix.json.
generate "$models" tiny-llama3-iq-mix.gguf \
    a4488adae205a4f37bab10ee32c4728a62501a6596b3be337f4813ca2a64a75f --matrices iq_mix
# One synthetic model per architecture beyond Llama (Tools/make_synthetic_model.py), against the goldens
# testdata/goldens/tiny-ARCH.json that llama.cpp recorded on exactly these bytes.
generate_arch() {
    local arch="$1" vocab_file="$2" pinned="$3" target="$models/tiny-$1.gguf" log
    if [ -s "$target" ] && [ "$(sha "$target")" = "$pinned" ]; then echo "$target"; return 0; fi
    log="$(mktemp)"
    if ! "$python" "$root/Tools/make_synthetic_model.py" --arch "$arch" --vocab "$testdata/vocab/$vocab_file" \
            --out "$target.partial" >"$log" 2>&1; then
        echo "make-test-models: generating tiny-$arch.gguf failed:" >&2; cat "$log" >&2
        rm -f "$target.partial" "$log"; exit 1
    fi
    rm -f "$log"
    if [ "$(sha "$target.partial")" != "$pinned" ]; then
        echo "make-test-models: tiny-$arch.gguf: generated SHA-256 $(sha "$target.partial"), pinned $pinned" >&2
        rm -f "$target.partial"; exit 1
    fi
    mv "$target.partial" "$target"
    echo "$target"
}
generate_arch gemma3 ggml-vocab-llama-spm.gguf 4e732d475df17884024cac48ae7fa6a41a66b0fcee8561f0b1285b938ffd0fb7
generate_arch qwen2 ggml-vocab-qwen2.gguf 8628ef59d7d6f10b4b6653620f61cb3614f63051184f55d9254a613187550716
generate_arch qwen3 ggml-vocab-qwen2.gguf 3ab0577a7557d5dfdcccd9e97bd71bda1b737b4df9dabb9d171d595e799ae442
generate_arch phi3 ggml-vocab-phi-3.gguf 5d8d6f7e672a44622c5a016e950b30f3b86703bf0f9a795b3d4783ebfb28cb00

if [ "$bench" = 1 ]; then
    generate "$root/.cache/models" synth-llama3-1b-f16.gguf - --shape 1b --matrices f16
    generate "$root/.cache/models" synth-llama3-1b-q8_0.gguf - --shape 1b --matrices q8_0
    generate "$root/.cache/models" synth-llama3-1b-q4_0.gguf - --shape 1b --matrices q4_0
fi
if [ "$quants" = 1 ]; then
    llamacpp_python="${LLAMACPP_VENV:-$root/.cache/llamacpp-venv}/bin/python"
    "$llamacpp_python" -c "import llama_cpp" 2>/dev/null ||
        { echo "make-test-models: --bench-quants needs llama.cpp: run Tools/setup-llamacpp.sh" >&2; exit 1; }
    for type in Q2_K Q3_K_S Q3_K_M Q3_K_L Q4_K_S Q4_K_M Q5_K_S Q5_K_M Q6_K IQ4_NL IQ4_XS; do
        target="$root/.cache/models/synth-llama3-1b-$(echo "$type" | tr 'A-Z' 'a-z').gguf"
        if [ ! -s "$target" ]; then
            "$llamacpp_python" "$root/Tools/quantize_llamacpp.py" "$root/.cache/models/synth-llama3-1b-f16.gguf" \
                "$target" "$type" >/dev/null 2>"$target.log" ||
                { echo "make-test-models: quantizing to $type failed:" >&2; cat "$target.log" >&2; exit 1; }
            rm -f "$target.log"
        fi
        echo "$target"
    done
    # The grid I-quants: llama-quantize wants an importance matrix for most of them, so these are every layer
    # matrix in the one type (as `llama-quantize --pure`; token_embd, also the output, in Q4_K) through
    # llama.cpp's block quantizer (Tools/quantize_ggml.py), one layer's bytes shared by all (speed only).
    for type in IQ1_S IQ1_M IQ2_XXS IQ2_XS IQ2_S IQ3_XXS IQ3_S; do
        target="$root/.cache/models/synth-llama3-1b-$(echo "$type" | tr 'A-Z' 'a-z').gguf"
        if [ ! -s "$target" ]; then
            "$python" "$root/Tools/quantize_ggml.py" "$root/.cache/models/synth-llama3-1b-f16.gguf" \
                "$target" "$type" --token-embd Q4_K --share-layers >/dev/null 2>"$target.log" ||
                { echo "make-test-models: quantizing to $type failed:" >&2; cat "$target.log" >&2; exit 1; }
            rm -f "$target.log"
        fi
        echo "$target"
    done
fi
