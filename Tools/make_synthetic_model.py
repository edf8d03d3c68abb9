#!/usr/bin/env python3
"""Writes a synthetic GGUF of a non-Llama architecture: random weights of a small real-shaped model, a real
tokenizer. Deterministic (numpy's PCG64 from a fixed seed, the gguf package's writer and quantizers).

    make_synthetic_model.py --arch gemma3|qwen2|qwen3|phi3 --vocab VOCAB.gguf --out M.gguf

Each architecture exercises what sets it apart in our forward pass (Architecture in Sources/Model):
  gemma3  6 layers, 128 wide, 4 heads of 64 (q is 256 wide) sharing 1 KV head, q/k norms, post norms, GeGLU,
          √128 embedding scale, NeoX RoPE base 1e6 on layer 5 and 10,000 on the 5 sliding layers
          (window 4, so every prompt outgrows it); Q8_0, tied output.
  qwen2   4 layers, 128 wide, 4 heads / 2 KV heads of 32, q/k/v biases, NeoX RoPE base 1e6; F16 matrices,
          Q8_0 embedding, tied output.
  qwen3   4 layers, 128 wide, 4 heads of 64 (key_length ≠ 128/4) / 2 KV heads, q/k norms, NeoX RoPE; Q8_0.
  phi3    4 layers, 128 wide, 4 heads of 32, fused attn_qkv and gate+up ffn_up, partial NeoX RoPE (16 of 32),
          LongRoPE long/short factors (original context 128, attention factor 1.19), untied output; Q8_0.
Random draws, in tensor order: matrices N(0,1)·0.02, biases N(0,1)·0.2, norms 1 + 0.1·N(0,1) (output norm ×4),
RoPE factors 1 + 3·U(0,1).
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as QT
from gguf import GGUFReader, GGUFWriter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_synthetic_llama import add_tensor, copy_tokenizer  # noqa: E402

SEED, STD, BIAS_STD, NORM_JITTER, OUTPUT_NORM_SCALE = 4321, 0.02, 0.2, 0.1, 4.0

SHAPES = {
    "gemma3": dict(width=128, layers=6, heads=4, kv_heads=1, head_dim=64, ffn=384, context=2048, rope_base=1e6,
                   eps=1e-6, matrices=QT.Q8_0, embedding=QT.Q8_0),
    "qwen2": dict(width=128, layers=4, heads=4, kv_heads=2, head_dim=32, ffn=256, context=4096, rope_base=1e6,
                  eps=1e-6, matrices=QT.F16, embedding=QT.Q8_0),
    "qwen3": dict(width=128, layers=4, heads=4, kv_heads=2, head_dim=64, ffn=256, context=4096, rope_base=1e6,
                  eps=1e-6, matrices=QT.Q8_0, embedding=QT.Q8_0),
    "phi3": dict(width=128, layers=4, heads=4, kv_heads=4, head_dim=32, ffn=256, context=4096, rope_base=10000.0,
                 eps=1e-5, matrices=QT.Q8_0, embedding=QT.Q8_0),
}
FILE_TYPE = {QT.F16: 1, QT.Q8_0: 7}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", required=True, choices=sorted(SHAPES))
    parser.add_argument("--vocab", required=True, help="vocabulary-only GGUF whose tokenizer.* keys are copied")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    arch, s = args.arch, SHAPES[args.arch]
    width, layers, heads, kv_heads, hd, ffn = (s[k] for k in ("width", "layers", "heads", "kv_heads", "head_dim", "ffn"))
    q_dim, kv_dim = heads * hd, kv_heads * hd

    vocab = GGUFReader(args.vocab)
    writer = GGUFWriter(args.out, arch=arch)
    writer.add_name(f"synthetic-{arch}-tiny")
    writer.add_description(f"random weights (seed {SEED}); not a trained model")
    writer.add_context_length(s["context"])
    writer.add_embedding_length(width)
    writer.add_block_count(layers)
    writer.add_feed_forward_length(ffn)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_freq_base(s["rope_base"])
    writer.add_layer_norm_rms_eps(s["eps"])
    if arch in ("gemma3", "qwen3"):
        writer.add_key_length(hd)
        writer.add_value_length(hd)
    if arch == "gemma3":
        writer.add_sliding_window(4)
    rope_dims = hd // 2 if arch == "phi3" else hd
    writer.add_rope_dimension_count(rope_dims)
    if arch == "phi3":
        writer.add_rope_scaling_attn_factors(1.19)
        writer.add_rope_scaling_orig_ctx_len(128)
    writer.add_file_type(FILE_TYPE[s["matrices"]])
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    vocabulary = copy_tokenizer(vocab, writer)

    random = np.random.default_rng(SEED)

    def matrix(rows: int, columns: int) -> np.ndarray:
        return random.standard_normal((rows, columns), dtype=np.float32) * STD

    def vector(count: int, std: float) -> np.ndarray:
        return random.standard_normal(count, dtype=np.float32) * std

    def norm(count: int, scale: float = 1.0) -> np.ndarray:
        return ((1.0 + NORM_JITTER * random.standard_normal(count, dtype=np.float32)) * scale).astype(np.float32)

    def add(name: str, values: np.ndarray, kind: QT) -> None:
        add_tensor(writer, name, values, kind)

    mat = s["matrices"]
    add("token_embd.weight", matrix(vocabulary, width), s["embedding"])
    add("output_norm.weight", norm(width, OUTPUT_NORM_SCALE), QT.F32)
    if arch == "phi3":
        add("output.weight", matrix(vocabulary, width), mat)
        add("rope_factors_long.weight", (1 + 3 * random.random(rope_dims // 2, dtype=np.float32)).astype(np.float32), QT.F32)
        add("rope_factors_short.weight", (1 + 3 * random.random(rope_dims // 2, dtype=np.float32)).astype(np.float32), QT.F32)
    for layer in range(layers):
        block = f"blk.{layer}."
        add(block + "attn_norm.weight", norm(width), QT.F32)
        if arch == "phi3":
            add(block + "attn_qkv.weight", matrix(q_dim + 2 * kv_dim, width), mat)
        else:
            add(block + "attn_q.weight", matrix(q_dim, width), mat)
            add(block + "attn_k.weight", matrix(kv_dim, width), mat)
            add(block + "attn_v.weight", matrix(kv_dim, width), mat)
        if arch == "qwen2":
            add(block + "attn_q.bias", vector(q_dim, BIAS_STD), QT.F32)
            add(block + "attn_k.bias", vector(kv_dim, BIAS_STD), QT.F32)
            add(block + "attn_v.bias", vector(kv_dim, BIAS_STD), QT.F32)
        if arch in ("gemma3", "qwen3"):
            add(block + "attn_q_norm.weight", norm(hd), QT.F32)
            add(block + "attn_k_norm.weight", norm(hd), QT.F32)
        add(block + "attn_output.weight", matrix(width, q_dim), mat)
        if arch == "gemma3":
            add(block + "post_attention_norm.weight", norm(width), QT.F32)
        add(block + "ffn_norm.weight", norm(width), QT.F32)
        if arch == "phi3":
            add(block + "ffn_up.weight", matrix(2 * ffn, width), mat)
        else:
            add(block + "ffn_gate.weight", matrix(ffn, width), mat)
            add(block + "ffn_up.weight", matrix(ffn, width), mat)
        add(block + "ffn_down.weight", matrix(width, ffn), mat)
        if arch == "gemma3":
            add(block + "post_ffw_norm.weight", norm(width), QT.F32)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file(progress=False)
    writer.close()
    print(f"make_synthetic_model: wrote {args.out} ({arch})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
