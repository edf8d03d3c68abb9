#!/usr/bin/env bash
# The one script a session runs on a lent NVIDIA machine (the device tool), from the repository root.
# Everything is built here beforehand: `bash Tools/gpu-check.sh --prepare` fills .gpucarry/ (ignored by
# git) with the xz-compressed stripped runner, the GPU worker, the Llama 3 vocabulary, the model generator,
# the gguf wheel and, when Tools/setup-llamacpp-cuda.sh has built it, llama.cpp's CUDA llama-bench and
# llama-quantize. On the device:  bash Tools/gpu-check.sh   (carry .gpucarry; results under $OUT)
#
# Checks, in order: the worker's kernel self-test (every format's matrix kernels at 1…100 tokens, attention,
# against double-precision host references); the tiny goldens' logits against llama.cpp's records with full
# (-ngl 999) and partial (-ngl 2 of 4) offload; GPU against CPU on K-quant files; speed with --bench against
# llama.cpp built with CUDA, on 1B-shaped models. Prints a summary table last.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
carry="$root/.gpucarry"
testdata="${SWIFTFILE_TESTDATA:-$root/testdata}"

if [ "${1:-}" = "--prepare" ]; then
    set -e
    mkdir -p "$carry"
    grep -qx "/.gpucarry/" "$root/.git/info/exclude" 2>/dev/null || echo "/.gpucarry/" >> "$root/.git/info/exclude"
    strip -o "$carry/swiftfile" "$root/.build/release/swiftfile"
    xz -T2 -6 -f "$carry/swiftfile"
    cp "$root/.build/release/swiftfile-gpu" "$carry/"
    cp "$testdata/vocab/ggml-vocab-llama-bpe.gguf" "$root/Tools/make_synthetic_llama.py" "$carry/"
    cp "$testdata/goldens/"*.json "$carry/"
    [ -f "$carry"/gguf-0.19.0-py3-none-any.whl ] || "$root/.venv/bin/pip" download -q --no-deps gguf==0.19.0 -d "$carry"
    llama="$root/.cache/cuda/llama-build/bin"
    if [ -x "$llama/llama-bench" ]; then
        mkdir -p "$carry/llama"
        for b in llama-bench llama-quantize; do strip -o "$carry/llama/$b" "$llama/$b"; xz -T2 -6 -f "$carry/llama/$b"; done
    fi
    du -sh "$carry"
    exit 0
fi

out="${OUT:-/tmp/gpu-check-out}"
work=/tmp/gpu-check
mkdir -p "$out" "$work/models"
log() { echo "== $*"; }
summary=()
record() { summary+=("$1"); }

log "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv,noheader
lscpu | grep -E "Model name|^CPU\(s\)" | tr -s ' '

xz -dc "$carry/swiftfile.xz" > "$work/swiftfile" && chmod +x "$work/swiftfile"
cp "$carry/swiftfile-gpu" "$work/swiftfile-gpu" && chmod +x "$work/swiftfile-gpu"
run="$work/swiftfile"
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$carry"/gguf-*.whl >/dev/null 2>&1
export PYTHONPATH=/tmp/site
if [ -d "$carry/llama" ]; then
    for b in llama-bench llama-quantize; do xz -dc "$carry/llama/$b.xz" > "$work/$b"; chmod +x "$work/$b"; done
    # cuBLAS/cudart come from the image's CUDA 13 Python packages.
    libs=$(python3 -c "import nvidia, os; p=os.path.dirname(nvidia.__path__[0] if hasattr(nvidia,'__path__') else nvidia.__file__); print(':'.join(os.path.join(r) for r,d,f in os.walk(nvidia.__path__[0]) if any(x.startswith(('libcublas','libcudart')) for x in f)))" 2>/dev/null)
    export LD_LIBRARY_PATH="${libs}:${LD_LIBRARY_PATH:-}"
fi

gen() {  # gen NAME ARGS...: a model from the deterministic generator (Tools/make_synthetic_llama.py)
    local name="$1"; shift
    [ -s "$work/models/$name" ] || python3 "$carry/make_synthetic_llama.py" --vocab "$carry/ggml-vocab-llama-bpe.gguf" \
        --out "$work/models/$name" "$@" > "$work/models/$name.log" 2>&1
}
# Start the big ones first, in the background.
gen synth-1b-f16.gguf --shape 1b --matrices f16 &
gen synth-1b-q4_0.gguf --shape 1b --matrices q4_0 &
gen tiny-llama3-f16-q4emb.gguf --matrices f16 --embedding q4_0 &
gen tiny-llama3-q8_0-q4emb.gguf --matrices q8_0 --embedding q4_0 &

log "runner and worker"
"$run" --version
"$work/swiftfile-gpu" --probe

log "kernel self-test"
if "$work/swiftfile-gpu" --selftest "$root/Tests/TensorsTests/Fixtures" > "$out/selftest.txt" 2>&1; then
    record "kernel self-test: $(tail -1 "$out/selftest.txt")"
else
    record "kernel self-test: FAILED (see selftest.txt)"
fi
grep -E "FAIL|selftest" "$out/selftest.txt" | head -40

wait %3 %4 2>/dev/null
log "goldens (llama.cpp's recorded logits)"
for spec in "tiny-llama3-f16-q4emb 1e-2" "tiny-llama3-q8_0-q4emb 1e-2"; do
    set -- $spec
    for ngl in 999 2; do
        if python3 "$root/Tools/gpu_compare.py" golden "$run" "$work/models/$1.gguf" "$carry/$1.json" "$2" -ngl "$ngl" --gpu nvidia > "$out/golden-$1-ngl$ngl.txt" 2>&1; then
            record "$(tail -1 "$out/golden-$1-ngl$ngl.txt")"
        else
            record "FAIL golden $1 -ngl $ngl: $(tail -1 "$out/golden-$1-ngl$ngl.txt")"
        fi
        cat "$out/golden-$1-ngl$ngl.txt"
    done
done

log "K-quants and I-quants: GPU against CPU"
if [ -x "$work/llama-quantize" ]; then
    gen tiny-llama3-f16.gguf --matrices f16
    for q in Q4_K_M Q2_K Q3_K_M Q5_K_M Q6_K IQ4_XS Q4_0 Q5_0; do
        m="$work/models/tiny-$q.gguf"
        "$work/llama-quantize" "$work/models/tiny-llama3-f16.gguf" "$m" "$q" 8 > "$m.log" 2>&1 || { record "FAIL quantize $q"; continue; }
        tol=5e-2
        if python3 "$root/Tools/gpu_compare.py" pair "$run" "$m" "$tol" 16 "-ngl 0" "-ngl 999 --gpu nvidia" > "$out/pair-$q.txt" 2>&1; then
            record "$(tail -1 "$out/pair-$q.txt")"
        else
            record "FAIL $q: $(tail -1 "$out/pair-$q.txt")"
        fi
    done
else
    record "K-quant pairs: skipped (no llama-quantize carried)"
fi

log "speed"
wait
models=("$work/models/synth-1b-q4_0.gguf")
if [ -x "$work/llama-quantize" ]; then
    "$work/llama-quantize" "$work/models/synth-1b-f16.gguf" "$work/models/synth-1b-q4_k_m.gguf" Q4_K_M 16 > /dev/null 2>&1 && models+=("$work/models/synth-1b-q4_k_m.gguf")
fi
models+=("$work/models/synth-1b-f16.gguf")
for m in "${models[@]}"; do
    name=$(basename "$m" .gguf)
    SWIFTFILE_GPU_PROFILE=1 "$run" --bench -m "$m" -ngl 999 --gpu nvidia -p 512 -n 128 -r 3 -o json > "$out/bench-$name.json" 2> "$out/bench-$name.err"
    python3 - "$out/bench-$name.json" "$name" <<'PY' >> "$out/speed.txt"
import json, sys
try:
    rows = json.load(open(sys.argv[1]))
except Exception as e:
    print(f"{sys.argv[2]} swiftfile: no result ({e})"); raise SystemExit
for r in rows if isinstance(rows, list) else rows.get("results", []):
    print(f"{sys.argv[2]} swiftfile {r.get('test', '?')}: {r.get('avg_ts', r.get('tokens_per_second', '?'))} t/s")
PY
    tail -3 "$out/bench-$name.err"
    if [ -x "$work/llama-bench" ]; then
        "$work/llama-bench" -m "$m" -ngl 99 -p 512 -n 128 -r 3 -o json > "$out/llama-$name.json" 2> "$out/llama-$name.err"
        python3 - "$out/llama-$name.json" "$name" <<'PY' >> "$out/speed.txt"
import json, sys
try:
    rows = json.load(open(sys.argv[1]))
except Exception as e:
    print(f"{sys.argv[2]} llama.cpp: no result ({e})"); raise SystemExit
for r in rows:
    t = f"pp{r['n_prompt']}" if r.get("n_prompt") else f"tg{r['n_gen']}"
    print(f"{sys.argv[2]} llama.cpp {t}: {r['avg_ts']:.1f} t/s")
PY
        tail -2 "$out/llama-$name.err"
    fi
done
cat "$out/speed.txt"
nvidia-smi --query-gpu=memory.used --format=csv,noheader

log "summary"
printf '%s\n' "${summary[@]}"
