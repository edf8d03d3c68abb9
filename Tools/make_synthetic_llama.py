#!/usr/bin/env python3
"""Writes a synthetic Llama 3 GGUF: random weights of a real shape, the real Llama 3 tokenizer.

Deterministic: the same arguments give the same bytes on every run and machine (numpy's PCG64 stream
from --seed, the gguf package's writer and Q4_0/Q8_0 quantizers, and this file's K-quant quantizer).

    make_synthetic_llama.py --vocab ggml-vocab-llama-bpe.gguf --out M.gguf [--shape tiny|1b]
                            [--matrices f32|f16|q8_0|q4_0|q4_k_m|iq_mix|iq2_xxs|...] [--embedding f16|q8_0|q4_0|...]

The tokenizer (every `tokenizer.*` key) is copied from a vocabulary-only GGUF. Shapes: `tiny` is
4 layers, 256 wide, 8 heads / 4 KV heads, FFN 768, context 2048; `1b` is Llama 3.2 1B's (16 layers,
2048 wide, 32/8 heads, FFN 8192, context 131072). Both have tied embeddings, RoPE base 500000 and
Llama 3.1's RoPE scaling as a `rope_freqs.weight` tensor of per-frequency divisors (factor 32,
low 1, high 4, original context 8192), which is how llama.cpp's converter stores it.

Random draws, in tensor order, all float32 standard normals from one generator: matrices are
N(0,1)·0.02, norms 1 + 0.1·N(0,1) (so a missing multiply shows), the output norm ×4 (a wider logit
spread: fewer greedy near-ties). `q4_k_m` follows llama.cpp's Q4_K_M mix: Q6_K for the token
embedding (it is also the output matrix) and for attn_v and ffn_down in the layers that get more
bits (i < n/8, i >= 7n/8, or (i - n/8) % 3 == 2), Q4_K elsewhere.

`iq_mix` stores the matrices in the seven grid I-quants (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS,
IQ3_S), rotating by tensor and layer so each appears in several roles. Their quantizers need an importance
matrix and a search no numpy loop does quickly, so these matrices are random blocks instead (uniform
bytes — every grid index, sign and scale is valid — with d drawn so each matrix has about the usual
spread): still a fixed set of weights two engines must agree on. `iq1_s`, `iq1_m`, `iq2_xxs`, `iq2_xs`,
`iq2_s`, `iq3_xxs` and `iq3_s` store every matrix in that one format, the same way (as a file of that
quantization has them: q, k, v and gate, up in one format, which a GPU may multiply as one matrix).
"""
from __future__ import annotations

import argparse
import math
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as QT
from gguf import GGUFReader, GGUFValueType, GGUFWriter

SHAPES = {
    "tiny": dict(embedding=256, layers=4, heads=8, kv_heads=4, ffn=768, context=2048),
    "1b": dict(embedding=2048, layers=16, heads=32, kv_heads=8, ffn=8192, context=131072),
}
# general.file_type (llama.cpp's llama_ftype) of each --matrices choice.
# Single grid I-quant files: llama_ftype's MOSTLY_IQ… numbers.
GRID_FILE_TYPES = {"iq2_xxs": 19, "iq2_xs": 20, "iq3_xxs": 23, "iq1_s": 24, "iq3_s": 26, "iq2_s": 28, "iq1_m": 31}
FILE_TYPE = {"f32": 0, "f16": 1, "q4_0": 2, "q8_0": 7, "q4_k_m": 15, "iq_mix": 19, **GRID_FILE_TYPES}
GRID_IQUANTS = [QT.IQ1_S, QT.IQ1_M, QT.IQ2_XXS, QT.IQ2_XS, QT.IQ2_S, QT.IQ3_XXS, QT.IQ3_S]
SEED, STD, NORM_JITTER, OUTPUT_NORM_SCALE = 1234, 0.02, 0.1, 4.0
ROPE_BASE, RMS_EPSILON = 500000.0, 1e-5
ROPE_FACTOR, ROPE_LOW, ROPE_HIGH, ROPE_ORIGINAL_CONTEXT = 32.0, 1.0, 4.0, 8192


def rope_divisors(head_dim: int) -> np.ndarray:
    """Llama 3.1 RoPE scaling: each frequency's divisor (1 for short wavelengths, the factor for
    long ones, a smooth blend between)."""
    frequencies = 1.0 / (ROPE_BASE ** (np.arange(0, head_dim, 2, dtype=np.float32) / head_dim))
    short_limit = ROPE_ORIGINAL_CONTEXT / ROPE_HIGH
    long_limit = ROPE_ORIGINAL_CONTEXT / ROPE_LOW
    divisors = []
    for frequency in frequencies:
        wavelength = 2 * math.pi / frequency
        if wavelength < short_limit:
            divisors.append(1.0)
        elif wavelength > long_limit:
            divisors.append(ROPE_FACTOR)
        else:
            blend = (ROPE_ORIGINAL_CONTEXT / wavelength - ROPE_LOW) / (ROPE_HIGH - ROPE_LOW)
            divisors.append(1.0 / ((1 - blend) / ROPE_FACTOR + blend))
    return np.asarray(divisors, dtype=np.float32)


# --- K-quants (block layouts: docs/formats.md §2; values as the gguf package dequantizes them) -------

def _f16(values: np.ndarray) -> np.ndarray:
    return values.astype(np.float16)


def quantize_q4_k(x: np.ndarray) -> np.ndarray:
    """Q4_K super-blocks of 256: f16 d, f16 dmin, 12 bytes of 6-bit (scale, min) pairs for 8
    sub-blocks of 32, then 128 bytes of 4-bit values; x ≈ d·scale·q − dmin·min."""
    blocks = x.reshape(-1, 8, 32).astype(np.float32)
    low = np.minimum(blocks.min(axis=2), 0.0)                  # each sub-block's offset (≤ 0)
    spread = blocks.max(axis=2) - low
    sub_scale = spread / 15.0
    sub_min = -low
    d = _f16(sub_scale.max(axis=1) / 63.0)
    dmin = _f16(sub_min.max(axis=1) / 63.0)
    d32, dmin32 = d.astype(np.float32), dmin.astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        scales = np.where(d32[:, None] > 0, np.rint(sub_scale / d32[:, None]), 0).clip(0, 63).astype(np.uint8)
        mins = np.where(dmin32[:, None] > 0, np.rint(sub_min / dmin32[:, None]), 0).clip(0, 63).astype(np.uint8)
        step = d32[:, None] * scales
        offset = dmin32[:, None] * mins
        q = np.where(step[:, :, None] > 0, np.rint((blocks + offset[:, :, None]) / step[:, :, None]), 0)
    q = q.clip(0, 15).astype(np.uint8)
    packed = np.zeros((blocks.shape[0], 12), dtype=np.uint8)
    packed[:, 0:4] = scales[:, 0:4] | ((scales[:, 4:8] >> 4) << 6)
    packed[:, 4:8] = mins[:, 0:4] | ((mins[:, 4:8] >> 4) << 6)
    packed[:, 8:12] = (scales[:, 4:8] & 0xF) | ((mins[:, 4:8] & 0xF) << 4)
    pairs = q.reshape(-1, 4, 2, 32)                             # sub-blocks 2i (low nibble), 2i+1 (high)
    nibbles = (pairs[:, :, 0, :] | (pairs[:, :, 1, :] << 4)).reshape(-1, 128)
    out = np.concatenate([d.view(np.uint8).reshape(-1, 2), dmin.view(np.uint8).reshape(-1, 2), packed, nibbles], axis=1)
    return out


def quantize_q6_k(x: np.ndarray) -> np.ndarray:
    """Q6_K super-blocks of 256: 128 bytes of low 4 bits, 64 bytes of high 2 bits, 16 int8 scales
    (one per 16 values), f16 d; x ≈ d·scale·(q − 32)."""
    blocks = x.reshape(-1, 16, 16).astype(np.float32)
    sub_scale = np.abs(blocks).max(axis=2) / 31.0
    d = _f16(sub_scale.max(axis=1) / 127.0)
    d32 = d.astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        scales = np.where(d32[:, None] > 0, np.rint(sub_scale / d32[:, None]), 0).clip(-128, 127).astype(np.int8)
        step = d32[:, None] * scales.astype(np.float32)
        q = np.where(step[:, :, None] != 0, np.rint(blocks / step[:, :, None]), 0)
    q = (q.clip(-32, 31) + 32).astype(np.uint8).reshape(-1, 2, 4, 32)  # halves of 128, quarters of 32
    low = q & 0xF
    high = q >> 4
    ql = np.concatenate([low[:, :, 0, :] | (low[:, :, 2, :] << 4), low[:, :, 1, :] | (low[:, :, 3, :] << 4)], axis=2)
    qh = high[:, :, 0, :] | (high[:, :, 1, :] << 2) | (high[:, :, 2, :] << 4) | (high[:, :, 3, :] << 6)
    return np.concatenate([ql.reshape(-1, 128), qh.reshape(-1, 64), scales.view(np.uint8), d.view(np.uint8).reshape(-1, 2)], axis=1)


K_QUANTIZERS = {QT.Q4_K: quantize_q4_k, QT.Q6_K: quantize_q6_k}
STORAGE = {"f32": QT.F32, "f16": QT.F16, "q8_0": QT.Q8_0, "q4_0": QT.Q4_0, "q4_k": QT.Q4_K, "q6_k": QT.Q6_K}


def stored(x: np.ndarray, kind: QT) -> tuple[np.ndarray, QT | None]:
    """The tensor's bytes (or float array) for GGUFWriter, and the raw type when quantized."""
    if kind == QT.F32:
        return x.astype(np.float32), None
    if kind == QT.F16:
        return x.astype(np.float16), None
    if kind in K_QUANTIZERS:
        rows = x.shape[0]
        data = K_QUANTIZERS[kind](x.astype(np.float32)).reshape(rows, -1)
        return data, kind
    return gguf.quants.quantize(x.astype(np.float32), kind), kind


def add_tensor(writer: GGUFWriter, name: str, values: np.ndarray, kind: QT) -> None:
    """Adds `values` stored as `kind` (quantized when it is a block format)."""
    data, raw = stored(values, kind)
    if raw is None:
        writer.add_tensor(name, data)
    else:
        writer.add_tensor(name, data, raw_dtype=raw)


def set_block_scales(blocks: np.ndarray, kind: QT, d: np.ndarray) -> None:
    """Writes each block's f16 d (IQ1_M: the top nibbles of its four scale words, lowest first)."""
    bits = d.astype(np.float16).view(np.uint16)
    if kind == QT.IQ1_M:
        for k in range(4):
            nibble = ((bits >> (4 * k)) & 15).astype(np.uint8)
            blocks[:, 49 + 2 * k] = (blocks[:, 49 + 2 * k] & 0x0F) | (nibble << 4)
    else:
        blocks[:, 0:2] = bits.view(np.uint8).reshape(-1, 2)


def random_grid_blocks(random: np.random.Generator, rows: int, columns: int, kind: QT) -> np.ndarray:
    """Uniform random blocks of a grid I-quant whose dequantized values have a standard deviation of about STD."""
    block_size, block_bytes = gguf.GGML_QUANT_SIZES[kind]
    count = rows * columns // block_size
    blocks = random.integers(0, 256, size=(count, block_bytes), dtype=np.uint8)
    set_block_scales(blocks, kind, np.ones(count, dtype=np.float32))
    spread = float(np.std(gguf.quants.dequantize(blocks.reshape(-1), kind)))
    set_block_scales(blocks, kind, (STD / spread) * random.uniform(0.5, 1.5, size=count).astype(np.float32))
    return blocks.reshape(rows, -1)


def copy_tokenizer(vocab: GGUFReader, writer: GGUFWriter) -> int:
    """Copies every tokenizer.* key in file order; returns the number of tokens."""
    tokens = None
    for key, field in vocab.fields.items():
        if not key.startswith("tokenizer."):
            continue
        kind = field.types[0]
        if kind == GGUFValueType.ARRAY:
            value = field.contents()
            writer.add_key_value(key, value, kind, sub_type=field.types[-1])
            if key == "tokenizer.ggml.tokens":
                tokens = len(value)
        else:
            writer.add_key_value(key, field.contents(), kind)
    if tokens is None:
        raise SystemExit(f"make_synthetic_llama: {vocab.path} has no tokenizer.ggml.tokens")
    return tokens


def more_bits(layer: int, layers: int) -> bool:
    return layer < layers // 8 or layer >= 7 * layers // 8 or (layer - layers // 8) % 3 == 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vocab", required=True, help="vocabulary-only GGUF whose tokenizer.* keys are copied")
    parser.add_argument("--out", required=True)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="tiny")
    parser.add_argument("--matrices", choices=sorted(FILE_TYPE), default="f16")
    parser.add_argument("--embedding", choices=sorted(STORAGE), default=None,
                        help="token_embd storage (default: f16 for f32 matrices, q6_k for q4_k_m, else as --matrices)")
    args = parser.parse_args(argv)

    shape = SHAPES[args.shape]
    width, layers, heads, kv_heads, ffn = (shape[k] for k in ("embedding", "layers", "heads", "kv_heads", "ffn"))
    head_dim = width // heads
    matrices = args.matrices
    embedding = args.embedding or {"f32": "f16", "q4_k_m": "q6_k", "iq_mix": "q4_0",
                                   **{name: "q4_0" for name in GRID_FILE_TYPES}}.get(matrices, matrices)
    quantized = matrices not in ("f32", "f16") or embedding not in ("f32", "f16")

    def matrix_kind(tensor: str, layer: int) -> QT:
        if matrices in GRID_FILE_TYPES:
            return QT[matrices.upper()]
        if matrices == "iq_mix":
            roles = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"]
            return GRID_IQUANTS[(roles.index(tensor) + layer) % len(GRID_IQUANTS)]
        if matrices != "q4_k_m":
            return STORAGE[matrices]
        if tensor in ("attn_v", "ffn_down") and more_bits(layer, layers):
            return QT.Q6_K
        return QT.Q4_K

    vocab = GGUFReader(args.vocab)
    writer = GGUFWriter(args.out, arch="llama")
    writer.add_name(f"synthetic-llama3-{args.shape}-{matrices}")
    writer.add_description(f"random weights (seed {SEED}, std {STD}); Llama 3 tokenizer; not a trained model")
    writer.add_context_length(shape["context"])
    writer.add_embedding_length(width)
    writer.add_block_count(layers)
    writer.add_feed_forward_length(ffn)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_freq_base(ROPE_BASE)
    writer.add_layer_norm_rms_eps(RMS_EPSILON)
    writer.add_rope_dimension_count(head_dim)
    writer.add_file_type(FILE_TYPE[matrices])
    if quantized:
        writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    vocabulary = copy_tokenizer(vocab, writer)
    writer.add_vocab_size(vocabulary)

    random = np.random.default_rng(SEED)

    def normal_matrix(rows: int, columns: int) -> np.ndarray:
        return random.standard_normal((rows, columns), dtype=np.float32) * STD

    def norm(count: int, scale: float = 1.0) -> np.ndarray:
        return ((1.0 + NORM_JITTER * random.standard_normal(count, dtype=np.float32)) * scale).astype(np.float32)

    def add(name: str, values: np.ndarray, kind: QT) -> None:
        add_tensor(writer, name, values, kind)

    def add_matrix(name: str, rows: int, columns: int, kind: QT) -> None:
        if kind in GRID_IQUANTS:
            writer.add_tensor(name, random_grid_blocks(random, rows, columns, kind), raw_dtype=kind)
        else:
            add(name, normal_matrix(rows, columns), kind)

    add("token_embd.weight", normal_matrix(vocabulary, width), STORAGE[embedding])
    add("output_norm.weight", norm(width, OUTPUT_NORM_SCALE), QT.F32)
    add("rope_freqs.weight", rope_divisors(head_dim), QT.F32)
    for layer in range(layers):
        block = f"blk.{layer}."
        add(block + "attn_norm.weight", norm(width), QT.F32)
        add_matrix(block + "attn_q.weight", heads * head_dim, width, matrix_kind("attn_q", layer))
        add_matrix(block + "attn_k.weight", kv_heads * head_dim, width, matrix_kind("attn_k", layer))
        add_matrix(block + "attn_v.weight", kv_heads * head_dim, width, matrix_kind("attn_v", layer))
        add_matrix(block + "attn_output.weight", width, heads * head_dim, matrix_kind("attn_output", layer))
        add(block + "ffn_norm.weight", norm(width), QT.F32)
        add_matrix(block + "ffn_gate.weight", ffn, width, matrix_kind("ffn_gate", layer))
        add_matrix(block + "ffn_up.weight", ffn, width, matrix_kind("ffn_up", layer))
        add_matrix(block + "ffn_down.weight", width, ffn, matrix_kind("ffn_down", layer))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file(progress=False)
    writer.close()
    print(f"make_synthetic_llama: wrote {args.out} ({args.shape}, matrices {matrices}, embedding {embedding})",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
