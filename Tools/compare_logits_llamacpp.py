#!/usr/bin/env python3
"""Our logits against llama.cpp's on the same GGUF, on this machine (run with .cache/llamacpp-venv/bin/python).

  compare_logits_llamacpp.py -m MODEL.gguf [-p PROMPT ...] [-n STEPS] [--swiftfile BIN] [--no-repack]
                             [--cache-type f16|f32|q8_0|q4_0] [--llama-cache-type T] [-c N]

For each prompt: runs `swiftfile --top-logits 20 --temp 0` (prompt ids, then our greedy steps), feeds the same
prompt ids plus our greedy ids to llama.cpp (llama-cpp-python, all logits kept), and reports the largest
|Δlogit| over our top-20 ids at the last prompt position and at every greedy step, and the first step where
llama.cpp's argmax differs from ours. Prints one JSON object per prompt and a summary line.
--cache-type sets both engines' KV cache type (-ctk/-ctv; llama.cpp's type_k/type_v, with flash attention on for
a quantized cache, which llama.cpp needs for quantized values); --llama-cache-type gives llama.cpp another one, to
see how far a quantized cache moves the logits from llama.cpp's F16 default.
"""
import argparse
import json
import subprocess
import sys

import llama_cpp
import numpy as np

DEFAULT_PROMPTS = ["The capital of France is", "Once upon a time, there was a little robot who",
                   "def fibonacci(n):\n"]


CACHE_TYPES = {"f32": 0, "f16": 1, "q4_0": 2, "q8_0": 8}


def ours(binary, model, prompt, steps, extra, context=512):
    out = subprocess.run([binary, "-m", model, "-p", prompt, "-n", str(steps), "--temp", "0", "--top-logits", "20",
                          "--log-disable", "-c", str(context), "-t", "2"] + extra, capture_output=True, text=True, check=True).stdout
    prompt_ids, rows = None, []
    for line in out.splitlines():
        if not line.startswith("{"):
            continue
        obj = json.loads(line)
        if "prompt" in obj:
            prompt_ids = obj["prompt"]
        elif "id" in obj:
            rows.append(obj)
    return prompt_ids, rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-m", "--model", required=True)
    ap.add_argument("-p", "--prompt", action="append")
    ap.add_argument("-n", "--steps", type=int, default=16)
    ap.add_argument("--swiftfile", default=".build/release/swiftfile")
    ap.add_argument("--no-repack", action="store_true")
    ap.add_argument("--cache-type", choices=sorted(CACHE_TYPES), default="f16")
    ap.add_argument("--llama-cache-type", choices=sorted(CACHE_TYPES))
    ap.add_argument("-c", "--context", type=int, default=512)
    args = ap.parse_args()
    reference_type = args.llama_cache_type or args.cache_type
    llm = llama_cpp.Llama(model_path=args.model, n_ctx=args.context, n_threads=2, n_threads_batch=2, logits_all=True,
                          verbose=False, type_k=CACHE_TYPES[reference_type], type_v=CACHE_TYPES[reference_type],
                          flash_attn=reference_type in ("q8_0", "q4_0"))
    extra = (["--no-repack"] if args.no_repack else []) + ["-ctk", args.cache_type, "-ctv", args.cache_type]
    worst_all = 0.0
    for prompt in args.prompt or DEFAULT_PROMPTS:
        prompt_ids, rows = ours(args.swiftfile, args.model, prompt, args.steps, extra, args.context)
        sequence = prompt_ids + [r["id"] for r in rows[:-1]]
        llm.reset()
        llm.eval(sequence)
        scores = np.array(llm.scores[: len(sequence)])
        worst, first_diff = 0.0, None
        for step, row in enumerate(rows):
            reference = scores[len(prompt_ids) - 1 + step]
            delta = max(abs(float(reference[int(i)]) - float(v)) for i, v in row["top"])
            worst = max(worst, delta)
            if first_diff is None and int(np.argmax(reference)) != row["id"]:
                margin = sorted(reference)[-1] - sorted(reference)[-2]
                first_diff = {"step": step, "ours": row["id"], "llama_cpp": int(np.argmax(reference)),
                              "llama_cpp_margin": float(margin)}
        worst_all = max(worst_all, worst)
        print(json.dumps({"prompt": prompt, "prompt_tokens": len(prompt_ids), "steps": len(rows),
                          "max_abs_dlogit": round(worst, 6), "first_argmax_difference": first_diff}))
    print(f"max |Δlogit| over all prompts and steps: {worst_all:.6f}")


if __name__ == "__main__":
    sys.exit(main())
