#!/usr/bin/env bash
# Rewrites the expected top-logits files beside this script with Tools/reference_forward.py
# (float64 numpy, independent of the Swift code). Deterministic; run after changing the reference.
#   <model>.<prompt>.jsonl: {"prompt": [...]} then 16 lines {"id": greedy id, "top": 10 x [id, logit]}
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
testdata="$root/testdata"
python="$root/.venv/bin/python"
reference="$root/Tools/reference_forward.py"

"$root/Tools/setup-venv.sh" >/dev/null
"$root/Tools/make-test-models.sh" >/dev/null
smollm2="$("$root/Tools/fetch-smollm2.sh")"

# The golden files' prompts (BOS included): the same ids for every Llama 3 tokenizer model.
prompt_tokens() {
    "$python" -c 'import json, sys
prompts = json.load(open(sys.argv[1]))["prompts"]
print(",".join(str(t) for t in prompts[int(sys.argv[2])]["tokens"]))' \
        "$testdata/goldens/tiny-llama3-f16-q4emb.json" "$1"
}
slugs=(capital-of-france little-robot unicode-and-code)

for model in "$testdata/models/tiny-llama3-f32.gguf" "$testdata/models/tiny-llama3-f16-q4emb.gguf" \
             "$testdata/models/tiny-llama3-q8_0-q4emb.gguf" "$testdata/models/tiny-llama3-q4_k_m.gguf"; do
    stem="$(basename "$model" .gguf)"
    for index in 0 1 2; do
        # K-quants: the reference quantizes each matrix input to Q8_K, as the format's dot product is defined.
        extra=()
        [ "$stem" = tiny-llama3-q4_k_m ] && extra=(--quantize-activations)
        "$python" "$reference" "$model" --tokens "$(prompt_tokens "$index")" --greedy 16 --top 10 "${extra[@]}" \
            >"$here/$stem.${slugs[$index]}.jsonl"
    done
done

# SmolLM2 has no BOS (add_bos_token false): "The capital of France is" = The, Ġcapital, Ġof, ĠFrance, Ġis.
"$python" "$reference" "$smollm2" --tokens 504,3575,282,4649,314 --greedy 16 --top 10 \
    >"$here/SmolLM2-135M-Instruct.Q4_1.capital-of-france.jsonl"
ls "$here"/*.jsonl | wc -l | sed 's/$/ reference files written/'
