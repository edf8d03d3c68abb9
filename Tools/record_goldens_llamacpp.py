#!/usr/bin/env python3
"""Records llama.cpp's reference logits for a GGUF into testdata/goldens/ (run with .cache/llamacpp-venv/bin/python,
after Tools/setup-llamacpp.sh has built llama-cpp-python here).

  record_goldens_llamacpp.py -m MODEL.gguf -o testdata/goldens/NAME.json [-n 16] [-p PROMPT ...] [--cache-type T]

The JSON has the shape GoldenLogitTests reads (see testdata/README.md): per prompt the prompt ids (BOS added,
special tokens not parsed), the top 5 logits at the last prompt position, `n` greedy ids (argmax, ties to the
lowest id, one token per decode), each step's top 5 and top-1/top-2 margin. It also records llama.cpp's own
spread: the largest |Δlogit| over each step's top 5 between evaluating the whole sequence in one batch and one
token at a time — what two correct llama.cpp runs on this file may differ by. --cache-type q8_0|q4_0 records with
that KV cache type for keys and values (flash attention on: llama.cpp needs it for quantized values).
"""
import argparse
import hashlib
import json
import os
import sys

import llama_cpp
import numpy as np

PROMPTS = ["The capital of France is", "Once upon a time, there was a little robot who", "def fibonacci(n):\n"]
N_CTX = 256
CACHE_TYPES = {"f16": 1, "q4_0": 2, "q8_0": 8}


def cpu_features():
    """The widest x86 vector extensions this host has (llama.cpp is compiled with -march=native)."""
    try:
        flags = next(line for line in open("/proc/cpuinfo") if line.startswith("flags")).split()
    except (OSError, StopIteration):
        return "unknown CPU"
    names = [n for f, n in [("avx2", "AVX2"), ("avx512f", "AVX-512"), ("avx512_vnni", "VNNI")] if f in flags]
    return " + ".join(names) or "no AVX2"


def top(row, k=5):
    order = sorted(range(len(row)), key=lambda i: (-row[i], i))[:k]
    return [[int(i), round(float(row[i]), 6)] for i in order]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-m", "--model", required=True)
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("-n", "--steps", type=int, default=16)
    ap.add_argument("-p", "--prompt", action="append")
    ap.add_argument("--cache-type", choices=sorted(CACHE_TYPES), default="f16")
    args = ap.parse_args()
    flash = args.cache_type != "f16"
    settings = dict(n_ctx=N_CTX, n_threads=2, n_threads_batch=2, logits_all=True, verbose=False, flash_attn=flash,
                    type_k=CACHE_TYPES[args.cache_type], type_v=CACHE_TYPES[args.cache_type])
    batch = llama_cpp.Llama(model_path=args.model, n_batch=N_CTX, n_ubatch=N_CTX, **settings)
    single = llama_cpp.Llama(model_path=args.model, n_batch=1, n_ubatch=1, **settings)
    prompts = []
    for text in args.prompt or PROMPTS:
        tokens = batch.tokenize(text.encode(), add_bos=True, special=False)
        batch.reset()
        batch.eval(tokens)
        greedy, per_step, margins = [], [], []
        for step in range(args.steps):
            row = np.array(batch.scores[batch.n_tokens - 1], dtype=np.float64)
            best = int(np.argmax(row))
            ordered = np.sort(row)
            per_step.append(top(row))
            margins.append(round(float(ordered[-1] - ordered[-2]), 6))
            greedy.append(best)
            if batch.token_is_eog(best) if hasattr(batch, "token_is_eog") else best == batch.token_eos():
                break
            if step + 1 < args.steps:
                batch.eval([best])
        sequence = tokens + greedy[:-1]
        full = np.array(batch.scores[:len(sequence)], dtype=np.float64)
        single.reset()
        single.eval(sequence)
        one = np.array(single.scores[:len(sequence)], dtype=np.float64)
        spread = 0.0
        for step in range(len(greedy)):
            position = len(tokens) - 1 + step
            ids = [i for i, _ in top(full[position])]
            spread = max(spread, float(np.max(np.abs(full[position][ids] - one[position][ids]))))
        prompts.append({
            "prompt": text, "tokens": tokens,
            "token_pieces": [batch.detokenize([t], special=True).decode("utf-8", "replace") for t in tokens],
            "last_top5": per_step[0], "greedy": greedy, "greedy_top1_top2_margin": margins,
            "greedy_top5_per_step": per_step,
            "greedy_text": batch.detokenize(greedy).decode("utf-8", "replace"),
            "llama_cpp_batch_vs_single_top5": round(spread, 6),
        })
    digest = hashlib.sha256(open(args.model, "rb").read()).hexdigest()
    golden = {
        "model": os.path.basename(args.model), "model_sha256": digest, "model_bytes": os.path.getsize(args.model),
        "llama_cpp": {"source": f"llama-cpp-python {llama_cpp.__version__} (PyPI sdist, vendored llama.cpp)",
                      "backend": "CPU only, built on this machine (" + cpu_features() + ")"},
        "settings": {"threads": 2, "n_ctx": N_CTX, "n_batch": N_CTX, "flash_attn": flash, "add_bos": True,
                     "kv_cache_type": args.cache_type,
                     "parse_special": False,
                     "prompt_eval": "whole prompt in one batch",
                     "generation": f"greedy argmax (ties -> lowest id), one token per decode, {args.steps} tokens",
                     "logit_values": "raw logits, rounded to 6 decimals"},
        "prompts": prompts,
    }
    with open(args.out, "w") as handle:
        json.dump(golden, handle, indent=1, ensure_ascii=False)
        handle.write("\n")
    print(f"wrote {args.out}: " + ", ".join(f"{p['prompt'][:16]!r} spread {p['llama_cpp_batch_vs_single_top5']}" for p in prompts))


if __name__ == "__main__":
    sys.exit(main())
