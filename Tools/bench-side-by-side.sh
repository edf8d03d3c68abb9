#!/usr/bin/env bash
# Side-by-side throughput of swiftfile and llama.cpp on the same GGUF files, on this machine.
#
#   Tools/bench-side-by-side.sh [-r ROUNDS] [-p N_PROMPT] [-n N_GEN] [-d DEPTH] [-t THREADS] [-q SECONDS] [-f auto|on|off] [MODEL.gguf ...]
#
# For each model, ROUNDS rounds (default 3) alternate the two engines: `swiftfile --bench -r 1 -o json`, then
# Tools/bench_llamacpp.py -r 1 (llama.cpp through llama-cpp-python, llama-bench's method), so slow minutes on
# a noisy machine hit both. Prints a markdown table (medians of the samples; ratio = median of the per-round
# swiftfile/llama.cpp ratios) and writes every sample to .cache/bench/side-by-side.json.
# Other work on the machine wrecks 2-thread numbers (spinning thread barriers): before each run the script
# waits up to -q SECONDS (default 60, 0: don't) for a quiet second, and records for each run the share of
# the CPUs that other processes used meanwhile (others_cpu); the table flags rows where it exceeded 10 %.
# Needs .build/release/swiftfile (`make build`; SWIFTFILE_BIN overrides) and Tools/setup-llamacpp.sh's venv.
# -d DEPTH: both engines first fill DEPTH tokens of context (untimed), then time pp/tg after them.
# -f: llama.cpp's flash attention (its -fa; default auto, which is on for the CPU).
# Default models: SmolLM2-135M-Instruct Q4_1 (Tools/fetch-smollm2.sh) and the 1B-shaped F16/Q8_0/Q4_0
# synthetic models (Tools/make-test-models.sh --bench; missing ones are skipped with a note), then where
# present the 1B-shaped K-quant and I-quant mixtures llama.cpp quantized (--bench-quants) and Gemma 3 270M.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
swiftfile="${SWIFTFILE_BIN:-$root/.build/release/swiftfile}"
venv_python="${LLAMACPP_VENV:-$root/.cache/llamacpp-venv}/bin/python"
out_dir="$root/.cache/bench"
rounds=3 n_prompt=128 n_gen=32 depth=0 threads=2 quiet_wait=60 flash_attn=auto

usage() { sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while getopts "r:p:n:d:t:q:f:h" opt; do
    case "$opt" in
        r) rounds="$OPTARG" ;;
        p) n_prompt="$OPTARG" ;;
        n) n_gen="$OPTARG" ;;
        d) depth="$OPTARG" ;;
        t) threads="$OPTARG" ;;
        q) quiet_wait="$OPTARG" ;;
        f) flash_attn="$OPTARG" ;;
        *) usage ;;
    esac
done
shift $((OPTIND - 1))
for v in "$rounds" "$n_prompt" "$n_gen" "$depth" "$threads" "$quiet_wait"; do
    [[ "$v" =~ ^[0-9]+$ ]] || { echo "bench-side-by-side: not a number: $v" >&2; exit 2; }
done
[ "$rounds" -ge 1 ] || { echo "bench-side-by-side: -r must be at least 1" >&2; exit 2; }
case "$flash_attn" in auto|on|off) ;; *) echo "bench-side-by-side: -f takes auto, on or off" >&2; exit 2 ;; esac

if [ ! -x "$swiftfile" ]; then
    echo "bench-side-by-side: $swiftfile not found: run 'make build' first (or set SWIFTFILE_BIN)" >&2
    exit 1
fi
if ! "$venv_python" -c "import llama_cpp" 2>/dev/null; then
    echo "bench-side-by-side: llama-cpp-python is not installed: run 'bash Tools/setup-llamacpp.sh' first" >&2
    exit 1
fi

models=()
if [ $# -gt 0 ]; then
    for m in "$@"; do
        [ -f "$m" ] || { echo "bench-side-by-side: no such model: $m" >&2; exit 1; }
        models+=("$m")
    done
else
    for m in .cache/models/SmolLM2-135M-Instruct.Q4_1.gguf .cache/models/synth-llama3-1b-{f16,q8_0,q4_0}.gguf; do
        if [ -f "$m" ]; then
            models+=("$m")
        else
            echo "bench-side-by-side: skipping $m (missing: Tools/fetch-smollm2.sh or Tools/make-test-models.sh --bench makes it)" >&2
        fi
    done
    # The K-quant and I-quant files, where Tools/make-test-models.sh --bench-quants made them.
    for m in .cache/models/synth-llama3-1b-{q2_k,q3_k_s,q3_k_m,q3_k_l,q4_k_s,q4_k_m,q5_k_s,q5_k_m,q6_k,iq4_xs,iq4_nl,iq1_s,iq1_m,iq2_xxs,iq2_xs,iq2_s,iq3_xxs,iq3_s}.gguf \
             .cache/models/gemma-3-270m-q4_k_m.gguf; do
        [ -f "$m" ] && models+=("$m")
    done
    [ ${#models[@]} -gt 0 ] || { echo "bench-side-by-side: no models to run" >&2; exit 1; }
fi

run_dir="$(mktemp -d)"
trap 'rm -rf "$run_dir"' EXIT
: >"$run_dir/runs.tsv"
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
started="$(date -u +%FT%TZ)"
bin_mtime="$(stat -c %Y "$swiftfile")"
index=0

busy_ticks() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8; exit}' /proc/stat; }  # user nice system irq softirq
ncpu="$(nproc)"
ticks_per_s="$(getconf CLK_TCK)"

wait_quiet() {  # until one second in which the machine is < 10 % busy, for at most $quiet_wait seconds
    local deadline=$((SECONDS + quiet_wait)) a b
    while [ "$SECONDS" -lt "$deadline" ]; do
        a="$(busy_ticks)"; sleep 1; b="$(busy_ticks)"
        [ $(((b - a) * 10)) -lt $((ticks_per_s * ncpu)) ] && return 0
    done
    [ "$quiet_wait" = 0 ] || echo "bench-side-by-side: machine still busy after ${quiet_wait}s; measuring anyway" >&2
}

run_one() {  # engine model round: one run, its JSON array kept as $run_dir/$index.json
    local engine="$1" model="$2" round="$3" status=0 before after start_ns end_ns others
    index=$((index + 1))
    wait_quiet
    local cmd=("$swiftfile" --bench -m "$model" -p "$n_prompt" -n "$n_gen" -d "$depth" -t "$threads" -r 1 -o json)
    [ "$engine" = swiftfile ] \
        || cmd=("$venv_python" "$root/Tools/bench_llamacpp.py" -m "$model" -p "$n_prompt" -n "$n_gen" -d "$depth" -t "$threads" -fa "$flash_attn" -r 1 -o json)
    before="$(busy_ticks)"; start_ns="$(date +%s%N)"
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f "%U %S" -o "$run_dir/$index.time" "${cmd[@]}" >"$run_dir/$index.json" 2>"$run_dir/$index.err" || status=$?
    else  # Debian's `time` package (make setup installs it); without it others_cpu is not known
        "${cmd[@]}" >"$run_dir/$index.json" 2>"$run_dir/$index.err" || status=$?
    fi
    after="$(busy_ticks)"; end_ns="$(date +%s%N)"
    # CPU share that other processes took during the run: all busy time minus the benchmark's own.
    others="$(awk -v b="$before" -v a="$after" -v hz="$ticks_per_s" -v n="$ncpu" -v ns=$((end_ns - start_ns)) \
        '{ own = $1 + $2; all = (a - b) / hz; o = (all - own) / (ns / 1e9 * n); printf "%.3f", (o < 0 ? 0 : o) }' \
        "$run_dir/$index.time" 2>/dev/null || echo nan)"
    if [ "$status" != 0 ]; then
        echo "bench-side-by-side: $engine failed on $model (exit $status):" >&2
        cat "$run_dir/$index.err" >&2
        exit 1
    fi
    printf '%s\t%s\t%s\t%s\t%s\n' "$index" "$round" "$engine" "$(basename "$model" .gguf)" "$others" >>"$run_dir/runs.tsv"
}

for model in "${models[@]}"; do
    echo "bench-side-by-side: $(basename "$model") — $rounds round(s) of pp$n_prompt/tg$n_gen at depth $depth, $threads threads, llama.cpp -fa $flash_attn" >&2
    for round in $(seq 1 "$rounds"); do
        run_one swiftfile "$model" "$round"
        run_one llama.cpp "$model" "$round"
    done
done

load_after="$(cut -d' ' -f1-3 /proc/loadavg)"
[ "$(stat -c %Y "$swiftfile")" = "$bin_mtime" ] \
    || echo "bench-side-by-side: warning: $swiftfile was rebuilt during the run: its samples mix two builds" >&2
meta="$run_dir/meta.json"
# The binary may be older or newer than HEAD (and the tree dirty): its mtime says which build was measured.
STARTED="$started" ROUNDS="$rounds" N_PROMPT="$n_prompt" N_GEN="$n_gen" DEPTH="$depth" THREADS="$threads" \
LOAD_BEFORE="$load_before" LOAD_AFTER="$load_after" SWIFTFILE="$swiftfile" \
COMMIT="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
DIRTY="$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null || true)" BIN_MTIME="$bin_mtime" \
LLAMACPP="$("$venv_python" -c 'import llama_cpp; print(llama_cpp.__version__)')" \
python3 - "$meta" <<'EOF_META'
import json, os, sys, time
e = os.environ
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
json.dump({"started": e["STARTED"], "rounds": int(e["ROUNDS"]), "n_prompt": int(e["N_PROMPT"]),
           "n_gen": int(e["N_GEN"]), "n_depth": int(e["DEPTH"]), "n_threads": int(e["THREADS"]), "cpu": cpu, "nproc": os.cpu_count(),
           "loadavg_before": e["LOAD_BEFORE"], "loadavg_after": e["LOAD_AFTER"],
           "swiftfile_binary": e["SWIFTFILE"],
           "swiftfile_binary_mtime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(e["BIN_MTIME"]))),
           "head_commit": e["COMMIT"], "tree_dirty": bool(e["DIRTY"]), "llama_cpp_python": e["LLAMACPP"]},
          open(sys.argv[1], "w"), indent=1)
EOF_META
mkdir -p "$out_dir"
python3 "$root/Tools/bench_side_by_side.py" "$run_dir" "$out_dir/side-by-side.json" "$meta"
echo "load average: $load_before (before), $load_after (after); samples in ${out_dir#"$root"/}/side-by-side.json" >&2
