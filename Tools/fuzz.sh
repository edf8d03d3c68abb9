#!/usr/bin/env bash
# Builds each libFuzzer target in Fuzz/ and runs it for SECONDS (default 60), one after the other.
#   Tools/fuzz.sh [SECONDS]          (make fuzz; FUZZ_SECONDS=... make fuzz; make test runs 30 s each)
# Targets: fuzz-gguf (the GGUF reader), fuzz-container (ZIP reader, .args, .sha256, sizes, part names),
# fuzz-http-request (header checks, the bounded JSON parser, typed field reads) and fuzz-chat-template
# (the Jinja engine) and fuzz-grammar (GBNF parser, JSON Schema conversion, the recogniser). Each starts from its corpus in the repo, Fuzz/corpus/<target>/, plus for GGUF and
# ZIP the small files of Tools/make_bad_inputs.py. What a run discovers stays in .build-fuzz/corpus-<target>
# between runs; crashes land in .build-fuzz/crashes-<target>/ and make the script exit 1.
set -uo pipefail

seconds="${1:-60}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
work=.build-fuzz
mkdir -p "$work"
testdata="${SWIFTFILE_TESTDATA:-$root/testdata}"

# Seeds besides the tracked corpora: the bad-input files without the model-sized ones, and the
# vocabularies' first bytes.
seeds="$work/seeds"
rm -rf "$seeds" && mkdir -p "$seeds/gguf" "$seeds/container" "$seeds/http-request" "$seeds/chat-template" "$seeds/grammar"
if ! python3 Tools/make_bad_inputs.py --no-models --zip-alignment 64 "$seeds/all" >/dev/null; then
    echo "fuzz: Tools/make_bad_inputs.py failed" >&2
    exit 1
fi
cp "$seeds"/all/gguf-* "$seeds"/all/valid-small.gguf "$seeds/gguf/"
cp "$seeds"/all/zip-* "$seeds/container/"
for vocab in "$testdata"/vocab/*.gguf; do
    [ -f "$vocab" ] || continue
    for size in 1024 16384; do head -c "$size" "$vocab" >"$seeds/gguf/$(basename "$vocab" .gguf)-$size"; done
done

# name | sources | fuzz entry file | maximum input length
server_parts="Sources/JSON/*.swift Sources/Server/RequestFields.swift"
server_parts+=" Sources/Server/ServerError.swift Sources/Server/Security.swift"
targets=(
    "gguf|Sources/GGUF/*.swift|Fuzz/FuzzGGUF.swift|16384"
    "container|Sources/Container/*.swift|Fuzz/FuzzContainer.swift|65536"
    "http-request|$server_parts|Fuzz/FuzzHTTPRequest.swift|16384"
    "chat-template|Sources/Chat/*.swift|Fuzz/FuzzChatTemplate.swift|8192"
    "grammar|Sources/Grammar/*.swift Sources/JSON/*.swift|Fuzz/FuzzGrammar.swift|8192"
)

failed=0
for spec in "${targets[@]}"; do
    IFS='|' read -r name sources entry max_len <<<"$spec"
    binary="$work/fuzz-$name"
    # shellcheck disable=SC2086  # $sources is a glob on purpose
    if ! swiftc -sanitize=fuzzer,address -parse-as-library -O -use-ld=lld $sources "$entry" -o "$binary" >"$work/build-$name.log" 2>&1; then
        echo "fuzz-$name: build failed, see $work/build-$name.log" >&2
        tail -5 "$work/build-$name.log" >&2
        failed=1
        continue
    fi
    corpus="$work/corpus-$name"
    crashes="$work/crashes-$name"
    mkdir -p "$corpus" "$crashes"
    log="$work/run-$name.log"
    # The growing corpus is the first folder (written to); seeds are read only.
    "$binary" "$corpus" "Fuzz/corpus/$name" "$seeds/$name" -max_total_time="$seconds" -max_len="$max_len" -rss_limit_mb=2048 \
        -timeout=10 -print_final_stats=1 -artifact_prefix="$crashes/" >"$log" 2>&1
    status=$?
    runs=$(grep -oE 'stat::number_of_executed_units: +[0-9]+' "$log" | awk '{print $2}')
    speed=$(grep -oE 'stat::average_exec_per_sec: +[0-9]+' "$log" | awk '{print $2}')
    coverage=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | awk '{print $2}')
    echo "fuzz-$name: ${runs:-?} runs in ${seconds} s, ${speed:-?} exec/s, coverage ${coverage:-?} edges, corpus $(ls "$corpus" | wc -l) files"
    if [ "$status" -ne 0 ] || [ -n "$(ls -A "$crashes")" ]; then
        failed=1
        echo "fuzz-$name: FOUND A PROBLEM (exit $status); reproduce with: $binary FILE" >&2
        ls -1 "$crashes"/* 2>/dev/null | sed 's/^/  /' >&2
        grep -m 5 -E 'ERROR|Fatal error|SUMMARY' "$log" | sed 's/^/  /' >&2
    fi
done
exit "$failed"
