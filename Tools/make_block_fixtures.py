#!/usr/bin/env python3
"""Writes the block-format fixtures under Tests/TensorsTests/Fixtures/.

Run with the project venv:  .venv/bin/python Tools/make_block_fixtures.py
Deterministic: same inputs -> same bytes. The `gguf` package is the independent oracle.

For every weight format, two files of ELEMENTS elements:
  <TYPE>.bin  raw block bytes (real rows from the synthetic test models where the type occurs, else
              bytes quantized by gguf, else — the grid I-quants — by llama.cpp's own quantizer
              (Tools/quantize_ggml.py; without its venv the checked-in bytes are kept), else
              deterministic random blocks with sane f16 scale fields)
  <TYPE>.f32  gguf.quants.dequantize of those bytes, little-endian float32
And the activation side, for quantizeActivations:
  activations.f32         ELEMENTS float32 inputs (with an all-zero block and a negative-extreme block)
  activations.<TYPE>.bin  those inputs in the activation formats F16, BF16 (gguf), and Q8_0, Q8_1,
                          Q8_K (numpy transcriptions of what llama.cpp's x86 CPU backend computes:
                          its AVX2 quantize_row_q8_0/q8_1 — x·(127/amax), round half to even — and
                          the reference quantize_row_q8_K, which x86 uses as is), and Q4_0 (gguf: the
                          reference quantizer llama.cpp writes -ctk/-ctv q4_0 cache rows with)
"""
import os
import sys

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import GGUFReader
from gguf import quants

ELEMENTS = 2048  # 8 super-blocks of 256: a whole number of blocks for every format

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTDATA = os.environ.get("SWIFTFILE_TESTDATA", os.path.join(ROOT, "testdata"))
OUT = os.path.join(ROOT, "Tests", "TensorsTests", "Fixtures")

MODELS = ["tiny-llama3-f16-q4emb.gguf", "tiny-llama3-q8_0-q4emb.gguf", "tiny-llama3-q4_k_m.gguf"]


def model_readers():
    """Each model parsed once (parsing the 128k-entry vocabulary is the slow part)."""
    if not _readers:
        _readers.extend(GGUFReader(os.path.join(TESTDATA, "models", name)) for name in MODELS)
    return _readers


_readers = []


def model_bytes(qtype):
    """First ELEMENTS elements' bytes of the first tensors of `qtype` in the test models, or None."""
    if qtype == T.F32:
        return None  # the models' F32 tensors are norms of ones: random values test more
    type_size = quants.GGML_QUANT_SIZES[qtype]
    needed = ELEMENTS // type_size[0] * type_size[1]
    chunks = []
    for reader in model_readers():
        for tensor in reader.tensors:
            if tensor.tensor_type != qtype:
                continue
            chunks.append(np.ascontiguousarray(tensor.data).view(np.uint8).reshape(-1))
            if sum(len(c) for c in chunks) >= needed:
                return np.concatenate(chunks)[:needed]
    return None


def random_blocks(qtype, f16_fields, rng):
    """Random block bytes whose f16 scale fields (byte offsets) hold small positive finite values."""
    block_size, block_bytes = quants.GGML_QUANT_SIZES[qtype]
    blocks = rng.integers(0, 256, size=(ELEMENTS // block_size, block_bytes), dtype=np.uint8)
    for offset in f16_fields:
        scales = rng.uniform(1e-3, 5e-2, size=len(blocks)).astype(np.float16)
        blocks[:, offset:offset + 2] = scales.view(np.uint8).reshape(-1, 2)
    return blocks.reshape(-1)


def weight_bytes(qtype, rng):
    real = model_bytes(qtype)
    if real is not None:
        return real, "model"
    if qtype.name in GRID_IQUANTS:  # their own stream, so adding them left the other fixtures' bytes as they were
        values = np.random.default_rng(int(qtype)).standard_normal(ELEMENTS).astype(np.float32) * 0.05
        return grid_iquant_bytes(qtype, values)
    values = rng.standard_normal(ELEMENTS).astype(np.float32) * 0.05
    if qtype == T.F32:
        return values.view(np.uint8), "random"
    if qtype in (T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0):
        return quants.quantize(values, qtype).view(np.uint8).reshape(-1), "gguf-quantized"
    # gguf cannot quantize these: random blocks, f16 fields at the ggml struct offsets.
    fields = {T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
              T.IQ4_NL: [0], T.IQ4_XS: [0]}[qtype]
    return random_blocks(qtype, fields, rng), "random-blocks"


GRID_IQUANTS = ["IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ3_XXS", "IQ3_S"]


def grid_iquant_bytes(qtype, values):
    """Real blocks: llama.cpp's quantizer on the values (an importance matrix of ones), 256 per row."""
    existing = os.path.join(OUT, f"{qtype.name}.bin")
    try:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import quantize_ggml
        quantize_ggml.library()
    except (ImportError, SystemExit):
        if os.path.exists(existing):
            return np.fromfile(existing, dtype=np.uint8), "kept"
        raise
    return quantize_ggml.quantize(values.reshape(-1, 256), qtype.name), "llama.cpp"


def quantize_q8_0(x):
    """llama.cpp's AVX2 quantize_row_q8_0: d = amax/127 stored as f16, q = rint(x · (127/amax))."""
    blocks = x.reshape(-1, 32)
    out = np.zeros((len(blocks), 34), dtype=np.uint8)
    for i, b in enumerate(blocks):
        amax = np.float32(np.max(np.abs(b)))
        d = np.float32(amax / np.float32(127))
        inverse = np.float32(np.float32(127) / amax) if amax != 0 else np.float32(0)
        q = np.rint(b * inverse).astype(np.int8)  # _mm256_round_ps nearest: half to even
        out[i, 0:2] = np.array([d], dtype=np.float16).view(np.uint8)
        out[i, 2:34] = q.view(np.uint8)
    return out.reshape(-1)


def quantize_q8_1(x):
    """llama.cpp's AVX2 quantize_row_q8_1 (as Q8_0, plus s = d · Σq); stored as the 40-byte layout
    float d, float s, int8 qs[32] with d and s rounded through f16 (what ggml's half fields hold)."""
    blocks = x.reshape(-1, 32)
    out = np.zeros((len(blocks), 40), dtype=np.uint8)
    for i, b in enumerate(blocks):
        amax = np.float32(np.max(np.abs(b)))
        d = np.float32(amax / np.float32(127))
        inverse = np.float32(np.float32(127) / amax) if amax != 0 else np.float32(0)
        q = np.rint(b * inverse).astype(np.int8)
        s = np.float32(np.float32(np.sum(q.astype(np.int32))) * d)
        out[i, 0:4] = np.array([np.float16(d)], dtype=np.float32).view(np.uint8)
        out[i, 4:8] = np.array([np.float16(s)], dtype=np.float32).view(np.uint8)
        out[i, 8:40] = q.view(np.uint8)
    return out.reshape(-1)


def quantize_q8_k(x):
    """llama.cpp quantize_row_q8_K_ref: float d, int8 qs[256], int16 bsums[16] (292 bytes)."""
    blocks = x.reshape(-1, 256)
    out = np.zeros((len(blocks), 292), dtype=np.uint8)
    for i, b in enumerate(blocks):
        index = int(np.argmax(np.abs(b)))  # first of the largest magnitudes, like the C loop's `>`
        extreme = np.float32(b[index])
        if extreme == 0:
            continue  # d = 0, all zero
        inverse_scale = np.float32(np.float32(-127) / extreme)
        q = np.rint(inverse_scale * b).astype(np.int32)  # nearest_int: round half to even
        q = np.minimum(q, 127).astype(np.int8)
        sums = q.astype(np.int16).reshape(16, 16).sum(axis=1).astype(np.int16)
        out[i, 0:4] = np.array([np.float32(1) / inverse_scale], dtype=np.float32).view(np.uint8)
        out[i, 4:260] = q.view(np.uint8)
        out[i, 260:292] = sums.view(np.uint8)
    return out.reshape(-1)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20240611)
    types = [T.F32, T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0,
             T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K, T.IQ4_NL, T.IQ4_XS] + [T[name] for name in GRID_IQUANTS]
    for qtype in types:
        data, source = weight_bytes(qtype, rng)
        expected = quants.dequantize(data, qtype).astype(np.float32).reshape(-1)
        assert expected.size == ELEMENTS, (qtype.name, expected.size)
        assert np.all(np.isfinite(expected)), qtype.name
        data.tofile(os.path.join(OUT, f"{qtype.name}.bin"))
        expected.astype("<f4").tofile(os.path.join(OUT, f"{qtype.name}.f32"))
        print(f"{qtype.name:7} {source:15} {data.size:6} bytes", file=sys.stderr)

    activations = (rng.standard_normal(ELEMENTS) * 0.7).astype(np.float32)
    activations[256:288] = 0                       # an all-zero Q8_0 block
    activations[512:768] = 0                       # an all-zero Q8_K block
    activations[1024 + 77] = np.float32(-9.5)      # a block whose extreme value is negative
    activations[1536:1568] = np.float32(0.5)       # ties: amax 127 makes x·(127/amax) = x exactly
    activations[1536] = np.float32(127)
    activations[1537:1541] = [2.5, -2.5, 3.5, -0.5]
    activations.astype("<f4").tofile(os.path.join(OUT, "activations.f32"))
    outputs = {
        "Q8_0": quantize_q8_0(activations),
        "F16": activations.astype(np.float16).view(np.uint8),
        "BF16": quants.quantize(activations, T.BF16).view(np.uint8).reshape(-1),
        "Q8_1": quantize_q8_1(activations),
        "Q8_K": quantize_q8_k(activations),
        "Q4_0": quants.quantize(activations, T.Q4_0).view(np.uint8).reshape(-1),  # KV cache rows (-ctk q4_0)
    }
    for name, data in outputs.items():
        data.tofile(os.path.join(OUT, f"activations.{name}.bin"))


if __name__ == "__main__":
    main()
