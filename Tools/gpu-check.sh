#!/usr/bin/env bash
# The one script a session runs on a lent NVIDIA machine (the device tool), from the repository root.
# Everything is built here beforehand: `bash Tools/gpu-check.sh --prepare` fills, ignored by git,
#   .gpucarry/        the xz-compressed stripped runner and GPU worker, the Llama 3 vocabulary, the model
#                     generator, the goldens, the gguf wheel and, when Tools/setup-llamacpp-cuda.sh has built
#                     them, llama.cpp's CUDA llama-bench and its CPU llama-quantize (about 35 MB);
#   .gpucarry-smol1/, .gpucarry-smol2/   SmolLM2-135M-Instruct Q4_1 (98 MB) in two halves: one call carries
#                     at most 64 MiB, and the machine keeps /tmp while it stays warm (30 s after a call).
# On the device, three calls in a row (each one right after the last returns):
#   1. carry [".gpucarry"]        bash Tools/gpu-check.sh --stage   (unpacks; starts generating the models in
#                                                                    the background, which goes on after it)
#   2. carry [".gpucarry-smol1"]  bash Tools/gpu-check.sh --stage
#   3. carry [".gpucarry-smol2"]  bash Tools/gpu-check.sh           (stages the last half, runs every check)
# A machine that went cold between calls lost /tmp: the run then says what is missing and checks the rest.
#
# Checks, in order: the worker's kernel self-test (every format's matrix kernels at 1…100 tokens, attention,
# against double-precision host references); the tiny goldens' logits against llama.cpp's records with full
# (-ngl 999) and partial (-ngl 2 of 4) offload; GPU against CPU on K-quant and I-quant files; SmolLM2's greedy
# text on the GPU against the CPU's for 32 tokens; speed with --bench against llama.cpp built with CUDA, on
# 1B-shaped models (Q4_0, Q4_K_M, F16, IQ2_XXS) and SmolLM2, and on 1B Q4_0 after 8192 positions (-d); the GPU memory the runner took; where the GPU
# time goes, kernel by kernel (SWIFTFILE_GPU_PROFILE=kernels). Prints a summary table last; results under $OUT.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
testdata="${SWIFTFILE_TESTDATA:-$root/testdata}"
smol_name=SmolLM2-135M-Instruct.Q4_1.gguf

if [ "${1:-}" = "--prepare" ]; then
    set -e
    carry="$root/.gpucarry"
    mkdir -p "$carry" "$root/.gpucarry-smol1" "$root/.gpucarry-smol2"
    for d in .gpucarry .gpucarry-smol1 .gpucarry-smol2; do
        grep -qx "/$d/" "$root/.git/info/exclude" 2>/dev/null || echo "/$d/" >> "$root/.git/info/exclude"
    done
    strip -o "$carry/swiftfile" "$root/.build/release/swiftfile"
    cp "$root/.build/release/swiftfile-gpu" "$carry/swiftfile-gpu"
    xz -T2 -6 -f "$carry/swiftfile" "$carry/swiftfile-gpu"
    cp "$testdata/vocab/ggml-vocab-llama-bpe.gguf" "$root/Tools/make_synthetic_llama.py" "$carry/"
    cp "$testdata/goldens/"*.json "$carry/"
    [ -f "$carry"/gguf-0.19.0-py3-none-any.whl ] || "$root/.venv/bin/pip" download -q --no-deps gguf==0.19.0 -d "$carry"
    rm -rf "$carry/llama"
    bench="$root/.cache/cuda/llama-build/bin/llama-bench" quantize="$root/.cache/cuda/quantize-build/bin/llama-quantize"
    if [ -x "$bench" ] && [ -x "$quantize" ]; then
        mkdir -p "$carry/llama"
        strip -o "$carry/llama/llama-bench" "$bench"
        strip -o "$carry/llama/llama-quantize" "$quantize"
        xz -T2 -6 -f "$carry/llama/llama-bench" "$carry/llama/llama-quantize"
    else
        echo "no llama.cpp builds (bash Tools/setup-llamacpp-cuda.sh): the run will have no side-by-side numbers"
    fi
    smol="$root/.cache/models/$smol_name"
    if [ -f "$smol" ]; then
        half=$(( ($(stat -c %s "$smol") + 1) / 2 ))
        rm -f "$root"/.gpucarry-smol1/* "$root"/.gpucarry-smol2/*
        head -c "$half" "$smol" > "$root/.gpucarry-smol1/part1"
        tail -c +"$((half + 1))" "$smol" > "$root/.gpucarry-smol2/part2"
        (cd "$(dirname "$smol")" && sha256sum "$smol_name") > "$carry/smol.sha256"
    else
        echo "no $smol (make smollm2): the run will skip SmolLM2"
    fi
    du -sh "$carry" "$root/.gpucarry-smol1" "$root/.gpucarry-smol2"
    exit 0
fi

out="${OUT:-/tmp/gpu-check-out}"
work=/tmp/gpu-check
bin="$work/bin" models="$work/models"
mkdir -p "$out" "$bin" "$models" "$work/smol"

# ---- Staging: whatever this call carried goes to /tmp, which outlives the call while the machine is warm.
# A warm machine keeps ignored folders between calls, so a later call may find .gpucarry again while the
# models are being generated from the last staging (llama-quantize running): a binary is unpacked only when it
# changed, and renamed into place (a running copy goes on); the folder is swapped, not emptied.
unpack() {  # unpack CARRIED.xz BINARY
    if ! cmp -s "$root/.gpucarry/$1" "$work/carry/$1" 2>/dev/null || [ ! -x "$bin/$2" ]; then
        xz -dc "$root/.gpucarry/$1" > "$bin/$2.new" && chmod +x "$bin/$2.new" && mv -f "$bin/$2.new" "$bin/$2"
    fi
}
stage() {
    local carried=0
    if [ -d "$root/.gpucarry" ] && [ -f "$root/.gpucarry/swiftfile.xz" ]; then
        unpack swiftfile.xz swiftfile
        unpack swiftfile-gpu.xz swiftfile-gpu
        if [ -d "$root/.gpucarry/llama" ]; then
            for b in llama-bench llama-quantize; do unpack "llama/$b.xz" "$b"; done
        fi
        rm -rf "$work/carry.new" && cp -r "$root/.gpucarry" "$work/carry.new" && rm -rf "$work/carry" && mv "$work/carry.new" "$work/carry"
        [ -d "$work/site/gguf" ] || python3 -m pip install -q --no-index --no-deps --no-compile --target "$work/site" "$work/carry"/gguf-*.whl >/dev/null 2>&1
        carried=1
        echo "staged the runner, the worker and the tools"
        # The models, in the background (a new session, so it outlives this call): the run waits for them.
        # One generator at a time, and none once they are made.
        if [ -f "$work/generated" ]; then
            echo "models already generated"
        elif [ -f "$work/generate.pid" ] && kill -0 "$(cat "$work/generate.pid")" 2>/dev/null; then
            echo "models still generating in the background"
        else
            setsid nohup bash "$root/Tools/gpu-check.sh" --generate > "$work/generate.log" 2>&1 < /dev/null &
            echo $! > "$work/generate.pid"
            echo "generating models in the background"
        fi
    fi
    for part in 1 2; do
        if [ -f "$root/.gpucarry-smol$part/part$part" ]; then
            cp "$root/.gpucarry-smol$part/part$part" "$work/smol/part$part"
            echo "staged SmolLM2 part $part"
            carried=1
        fi
    done
    [ "$carried" = 1 ] || echo "nothing carried to stage"
}

gen() {  # gen NAME ARGS...: a model from the deterministic generator (Tools/make_synthetic_llama.py)
    local name="$1"; shift
    [ -s "$models/$name" ] && return 0
    PYTHONPATH="$work/site" python3 "$work/carry/make_synthetic_llama.py" --vocab "$work/carry/ggml-vocab-llama-bpe.gguf" \
        --out "$models/$name.tmp" "$@" > "$models/$name.log" 2>&1 && mv "$models/$name.tmp" "$models/$name"
}
quantize() {  # quantize SOURCE TYPE NAME
    [ -s "$models/$3" ] && return 0
    [ -x "$bin/llama-quantize" ] || return 1
    "$bin/llama-quantize" "$models/$1" "$models/$3.tmp" "$2" 16 > "$models/$3.log" 2>&1 && mv "$models/$3.tmp" "$models/$3"
}
kquants=(Q4_K_M Q2_K Q3_K_M Q5_K_M Q6_K IQ4_XS IQ4_NL Q4_0 Q5_0 Q5_1 BF16)

if [ "${1:-}" = "--generate" ]; then
    gen tiny-llama3-f16-q4emb.gguf --matrices f16 --embedding q4_0 &
    gen tiny-llama3-q8_0-q4emb.gguf --matrices q8_0 --embedding q4_0 &
    gen tiny-llama3-iq-mix.gguf --matrices iq_mix &
    gen synth-1b-q4_0.gguf --shape 1b --matrices q4_0 &
    gen synth-1b-iq2_xxs.gguf --shape 1b --matrices iq2_xxs &
    { gen tiny-llama3-f16.gguf --matrices f16 && for q in "${kquants[@]}"; do quantize tiny-llama3-f16.gguf "$q" "tiny-$q.gguf"; done; } &
    gen synth-1b-f16.gguf --shape 1b --matrices f16 && quantize synth-1b-f16.gguf Q4_K_M synth-1b-q4_k_m.gguf
    wait
    touch "$work/generated"
    exit 0
fi

stage
[ "${1:-}" = "--stage" ] && exit 0

log() { echo "== $*"; }
summary=()
# Each line also goes to summary.txt as it comes: a run cut off by the call's time limit still leaves what it
# measured (the full, ordered summary replaces it at the end).
: > "$out/summary.txt"
record() { summary+=("$1"); echo "$1" >> "$out/summary.txt"; }
measured() { speed+=("$1"); echo "$1" >> "$out/summary.txt"; }
run="$bin/swiftfile"
if [ ! -x "$run" ]; then
    echo "FAIL: the runner was not staged (carry .gpucarry with --stage first, or the machine went cold)"
    exit 1
fi
export PYTHONPATH="$work/site"
# cuBLAS and cudart for llama-bench come from the image's CUDA 13 Python packages.
libs=$(python3 -c "import nvidia, os; print(':'.join(r for r, d, f in os.walk(nvidia.__path__[0]) if any(x.startswith(('libcublas', 'libcudart')) for x in f)))" 2>/dev/null)
export LD_LIBRARY_PATH="${libs}:${LD_LIBRARY_PATH:-}"

log "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv,noheader
lscpu | grep -E "Model name|^CPU\(s\)" | tr -s ' '
log "runner and worker"
"$run" --version
"$run" --list-devices
start=$(date +%s%N)
"$bin/swiftfile-gpu" --probe
echo "probe (the driver compiles the PTX unless its cache has it): $(( ($(date +%s%N) - start) / 1000000 )) ms"
# A GPU beyond the driver's is refused with its count (what -mg and -ts rest on): "no NVIDIA GPU 999: the driver sees 1 …".
record "device index: $("$bin/swiftfile-gpu" --probe 999 2>&1 | head -1)"

log "kernel self-test"
if "$bin/swiftfile-gpu" --selftest "$root/Tests/TensorsTests/Fixtures" > "$out/selftest.txt" 2>&1; then
    record "kernel self-test: $(tail -1 "$out/selftest.txt")"
else
    record "kernel self-test: FAILED (see selftest.txt)"
fi
grep -E "FAIL|selftest" "$out/selftest.txt" | head -40

log "waiting for the models"
for i in $(seq 1 300); do [ -f "$work/generated" ] && break; sleep 1; done
[ -f "$work/generated" ] || echo "model generation not finished after 300 s; going on with what is there"
tail -3 "$work/generate.log" 2>/dev/null

log "goldens (llama.cpp's recorded logits)"
for spec in "tiny-llama3-f16-q4emb 1e-2" "tiny-llama3-q8_0-q4emb 1e-2" "tiny-llama3-iq-mix 5e-2"; do
    set -- $spec
    [ -s "$models/$1.gguf" ] || { record "FAIL golden $1: model not generated"; continue; }
    for ngl in 999 2; do
        if python3 "$root/Tools/gpu_compare.py" golden "$run" "$models/$1.gguf" "$work/carry/$1.json" "$2" -ngl "$ngl" --gpu nvidia > "$out/golden-$1-ngl$ngl.txt" 2>&1; then
            record "$(tail -1 "$out/golden-$1-ngl$ngl.txt")"
        else
            record "FAIL golden $1 -ngl $ngl: $(tail -1 "$out/golden-$1-ngl$ngl.txt")"
        fi
        cat "$out/golden-$1-ngl$ngl.txt"
    done
done

log "K-quants and I-quants: GPU against CPU"
for q in "${kquants[@]}" iq-mix; do
    m="$models/tiny-$q.gguf"
    [ "$q" = iq-mix ] && m="$models/tiny-llama3-iq-mix.gguf"  # the seven grid I-quants
    [ -s "$m" ] || { record "K-quant $q: no model (llama-quantize not carried or failed)"; continue; }
    # every format of these files is multiplied in the CPU's orders: the same bits
    if python3 "$root/Tools/gpu_compare.py" pair "$run" "$m" 0 16 "-ngl 0" "-ngl 999 --gpu nvidia" > "$out/pair-$q.txt" 2>&1; then
        record "$(tail -1 "$out/pair-$q.txt")"
    else
        record "FAIL $q: $(tail -1 "$out/pair-$q.txt")"
    fi
done

log "quantized and F32 KV caches: GPU against CPU with the same -ctk/-ctv"
for type in q8_0 q4_0 f32; do
    m="$models/tiny-llama3-q8_0-q4emb.gguf"
    [ -s "$m" ] || { record "FAIL KV cache $type: model not generated"; continue; }
    # attention over these caches follows the CPU's orders too: the same bits
    if python3 "$root/Tools/gpu_compare.py" pair "$run" "$m" 0 16 "-ngl 0 -ctk $type -ctv $type" "-ngl 999 --gpu nvidia -ctk $type -ctv $type" > "$out/pair-kv-$type.txt" 2>&1; then
        record "KV cache $type: $(tail -1 "$out/pair-kv-$type.txt")"
    else
        record "FAIL KV cache $type: $(tail -1 "$out/pair-kv-$type.txt")"
    fi
done

log "context shift on the GPU against the CPU's (-c 32, 40 steps: the context fills twice)"
m="$models/tiny-llama3-q8_0-q4emb.gguf"
if [ -s "$m" ] && python3 "$root/Tools/gpu_compare.py" pair "$run" "$m" 0 40 "-ngl 0 -c 32 --context-shift" "-ngl 999 --gpu nvidia -c 32 --context-shift" > "$out/pair-shift.txt" 2>&1; then
    record "context shift: $(tail -1 "$out/pair-shift.txt")"
else
    record "FAIL context shift: $(tail -1 "$out/pair-shift.txt" 2>/dev/null)"
fi

log "SmolLM2: greedy text on the GPU against the CPU's, 32 tokens"
smol="$models/$smol_name"
if [ ! -s "$smol" ] && [ -f "$work/smol/part1" ] && [ -f "$work/smol/part2" ]; then
    cat "$work/smol/part1" "$work/smol/part2" > "$smol"
fi
if [ -s "$smol" ] && (cd "$models" && sha256sum -c --quiet "$work/carry/smol.sha256"); then
    for prompt in "The capital of France is" "Once upon a time, there was a little robot who"; do
        "$run" -m "$smol" -p "$prompt" -n 32 --temp 0 --log-disable > "$out/smol-cpu.txt" 2>&1
        "$run" -m "$smol" -p "$prompt" -n 32 --temp 0 --log-disable -ngl 999 --gpu nvidia > "$out/smol-gpu.txt" 2>&1
        if cmp -s "$out/smol-cpu.txt" "$out/smol-gpu.txt"; then
            record "ok   SmolLM2 greedy text equal for 32 tokens: '${prompt:0:24}'"
        else
            record "FAIL SmolLM2 greedy text differs: '${prompt:0:24}' (smol-*.txt)"
            cp "$out/smol-cpu.txt" "$out/smol-cpu-${#prompt}.txt"; cp "$out/smol-gpu.txt" "$out/smol-gpu-${#prompt}.txt"
        fi
    done
    # Q4_1 and Q8_0 products, F16-cache attention, norms and SwiGLU all follow the CPU's orders: the same bits
    if python3 "$root/Tools/gpu_compare.py" pair "$run" "$smol" 0 16 "-ngl 0" "-ngl 999 --gpu nvidia" > "$out/pair-smol.txt" 2>&1; then
        record "SmolLM2 logits: $(tail -1 "$out/pair-smol.txt")"
    else
        record "FAIL SmolLM2 logits not the CPU's bit for bit: $(tail -1 "$out/pair-smol.txt")"
    fi
else
    record "SmolLM2: not staged or damaged (parts: $(ls "$work/smol" 2>/dev/null | tr '\n' ' ')): carry .gpucarry-smol1 and 2"
    smol=""
fi

log "speed (pp512 / tg128, 3 repetitions)"
# One line per --bench / llama-bench JSON file: each test's tokens per second.
ours() {
    python3 - "$1" <<'PY'
import json, sys
try:
    rows = json.load(open(sys.argv[1]))
except Exception as e:
    print(f"no result ({e})"); raise SystemExit
rows = rows if isinstance(rows, list) else rows.get("results", [])
print("  ".join(f"{r.get('test', '?')} {float(r.get('avg_ts', r.get('tokens_per_second', 0))):.1f}" for r in rows))
PY
}
theirs() {
    python3 - "$1" <<'PY'
import json, sys
try:
    rows = json.load(open(sys.argv[1]))
except Exception as e:
    print(f"no result ({e})"); raise SystemExit
print("  ".join((f"pp{r['n_prompt']}" if r.get("n_prompt") else f"tg{r['n_gen']}") + f" {r['avg_ts']:.1f}" for r in rows))
PY
}
speed=()
for name in synth-1b-q4_0 synth-1b-q4_k_m synth-1b-f16 smol synth-1b-iq2_xxs; do
    if [ "$name" = smol ]; then m="$smol"; else m="$models/$name.gguf"; fi
    [ -n "$m" ] && [ -s "$m" ] || { measured "$name: no model"; continue; }
    # default; simt: the integer prompt tiles (Q4_0/Q4_1, the K-quants) on the CUDA cores (dp4a) instead of
    # the int8 tensor cores; matvec: those prompts through the batched matrix-vector kernel (all three in the
    # CPU's order)
    case "$name" in
        synth-1b-q4_0|synth-1b-q4_k_m|smol) variants=("default" "simt" "matvec") ;;
        *) variants=("default") ;;
    esac
    for variant in "${variants[@]}"; do
        env=(SWIFTFILE_GPU_PROFILE=1)
        [ "$variant" = simt ] && env+=(SWIFTFILE_GPU_MATMUL=simt)
        [ "$variant" = matvec ] && env+=(SWIFTFILE_GPU_MATMUL=matvec)
        env "${env[@]}" "$run" --bench -m "$m" -ngl 999 --gpu nvidia -p 512 -n 128 -r 3 -o json > "$out/bench-$name-$variant.json" 2> "$out/bench-$name-$variant.err"
        measured "$name swiftfile ($variant): $(ours "$out/bench-$name-$variant.json"); $(grep -m1 -o 'offloaded.*' "$out/bench-$name-$variant.err")"
    done
    if [ -x "$bin/llama-bench" ]; then
        "$bin/llama-bench" -m "$m" -ngl 99 -p 512 -n 128 -r 3 -o json > "$out/llama-$name.json" 2> "$out/llama-$name.err"
        measured "$name llama.cpp CUDA: $(theirs "$out/llama-$name.json")"
    fi
done
# Long context: generation after 8192 positions (attention split into ranges, and without for comparison).
m="$models/synth-1b-q4_0.gguf"
if [ -s "$m" ]; then
    for variant in split single; do
        env=(SWIFTFILE_GPU_PROFILE=1)
        [ "$variant" = single ] && env+=(SWIFTFILE_GPU_ATTENTION_SPLITS=1)
        env "${env[@]}" "$run" --bench -m "$m" -ngl 999 --gpu nvidia -d 8192 -p 512 -n 128 -r 3 -o json > "$out/bench-depth-$variant.json" 2> "$out/bench-depth-$variant.err"
        measured "synth-1b-q4_0 @ d8192 swiftfile ($variant attention): $(ours "$out/bench-depth-$variant.json")"
    done
    if [ -x "$bin/llama-bench" ]; then
        "$bin/llama-bench" -m "$m" -ngl 99 -d 8192 -p 512 -n 128 -r 3 -o json > "$out/llama-depth.json" 2> "$out/llama-depth.err"
        measured "synth-1b-q4_0 @ d8192 llama.cpp CUDA: $(theirs "$out/llama-depth.json")"
    fi
fi
printf '%s\n' "${speed[@]}" | tee "$out/speed.txt"
nvidia-smi --query-gpu=memory.used --format=csv,noheader

log "where the GPU time goes (SWIFTFILE_GPU_PROFILE=kernels: every launch timed, graphs off)"
for name in synth-1b-q4_0 synth-1b-q4_k_m; do
    m="$models/$name.gguf"
    [ -s "$m" ] || continue
    SWIFTFILE_GPU_PROFILE=kernels "$run" --bench -m "$m" -ngl 999 --gpu nvidia -p 512 -n 128 -r 1 > /dev/null 2> "$out/kernels-$name.txt"
    # each batch kind's total and its five largest kernels
    measured "kernel profile $name:"
    while IFS= read -r line; do measured "$line"; done < <(awk '/kernel time/ { n = 0; print; next } /^  / && n < 5 { n++; print }' "$out/kernels-$name.txt")
done

log "summary"
printf '%s\n' "${summary[@]}" "${speed[@]}" | tee "$out/summary.txt"
