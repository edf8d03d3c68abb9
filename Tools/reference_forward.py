#!/usr/bin/env python3
"""Independent float64 reference of the GGUF "llama" forward pass, for checking swiftfile's logits.

Written from the math, not from the Swift code: the `gguf` package dequantizes every tensor; numpy
does the rest in float64 (no activation rounding, unlike llama.cpp). The file is parsed by the small
reader below rather than gguf.GGUFReader, which needs ~25 s for a 128k-token vocabulary's arrays.

Usage (with the project venv, see Tools/setup-venv.sh):
  .venv/bin/python Tools/reference_forward.py MODEL.gguf --tokens 128000,791,6864 [--greedy N] [--top K]
  .venv/bin/python Tools/reference_forward.py MODEL.gguf --check-golden GOLDEN.json

Output (one JSON object per line, the format of the runner's `--top-logits K`):
  {"prompt": [ids...]}
  {"id": chosen, "top": [[id, logit], ...]}     one line per step
The first step line is for the last prompt position; `id` is its argmax (ties -> lowest id), which
is fed back to produce the next line. `--greedy N` prints N step lines (default 1).
`--check-golden` runs every prompt of a llama.cpp golden file and prints the largest |difference|;
`--emulate-llamacpp` rounds activations and the KV cache as llama.cpp's CPU backend does, to show
that what remains against its goldens is that rounding (a validation aid, not for comparisons).
`--quantize-activations` rounds only each matrix product's input to the weight format's activation blocks
(Q8_0/Q8_1/Q8_K, F16): part of how those block formats' dot products are defined (ggml multiplies K-quant
rows by Q8_K-quantized activations); the KV cache and attention stay float64.
"""
from __future__ import annotations

import argparse
import json
import mmap
import struct
import sys
from dataclasses import dataclass

import numpy as np
from gguf import GGMLQuantizationType
from gguf.constants import GGML_QUANT_SIZES
from gguf.quants import dequantize


class ModelError(Exception):
    """A model this reference cannot run (missing key or tensor, inconsistent shape)."""


@dataclass
class Tensor:
    name: str
    tensor_type: GGMLQuantizationType
    dims: list  # GGUF ne, dim 0 contiguous
    data: np.ndarray  # raw bytes, (rows, bytes per row) uint8


class GGUFFile:
    """Metadata (scalars, strings, arrays as lists) and tensors as raw byte views of a GGUF file."""

    SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
               10: "<Q", 11: "<q", 12: "<d"}

    def __init__(self, path: str):
        with open(path, "rb") as f:
            self.buffer = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        self.offset = 0
        if self.buffer[:4] != b"GGUF":
            raise ModelError(f"{path}: not a GGUF file")
        self.offset = 4
        version, tensor_count, kv_count = self.read("<I"), self.read("<Q"), self.read("<Q")
        if version not in (2, 3):
            raise ModelError(f"GGUF version {version} is not supported")
        self.fields = {}
        for _ in range(kv_count):
            key = self.read_string()
            self.fields[key] = self.read_value(self.read("<I"))
        infos = []
        for _ in range(tensor_count):
            name = self.read_string()
            dims = [self.read("<Q") for _ in range(self.read("<I"))]
            infos.append((name, dims, self.read("<I"), self.read("<Q")))
        alignment = int(self.fields.get("general.alignment", 32))
        data_start = (self.offset + alignment - 1) // alignment * alignment
        raw = np.frombuffer(self.buffer, dtype=np.uint8)
        self.tensors = {}
        for name, dims, type_id, offset in infos:
            tensor_type = GGMLQuantizationType(type_id)
            block_elements, block_bytes = GGML_QUANT_SIZES[tensor_type]
            row_elements = dims[0] if dims else 1
            rows = int(np.prod(dims[1:], dtype=np.int64)) if len(dims) > 1 else 1
            if row_elements % block_elements:
                raise ModelError(f"{name}: row of {row_elements} is not whole {tensor_type.name} blocks")
            row_bytes = row_elements // block_elements * block_bytes
            start = data_start + offset
            if start + rows * row_bytes > len(raw):
                raise ModelError(f"{name}: data runs past the end of the file")
            data = raw[start:start + rows * row_bytes].reshape(rows, row_bytes)
            self.tensors[name] = Tensor(name, tensor_type, dims, data)

    def read(self, fmt: str):
        value = struct.unpack_from(fmt, self.buffer, self.offset)[0]
        self.offset += struct.calcsize(fmt)
        return value

    def read_string(self) -> str:
        length = self.read("<Q")
        text = bytes(self.buffer[self.offset:self.offset + length]).decode("utf-8", errors="replace")
        self.offset += length
        return text

    def read_value(self, value_type: int):
        if value_type in self.SCALARS:
            return self.read(self.SCALARS[value_type])
        if value_type == 8:
            return self.read_string()
        if value_type == 9:
            element_type, count = self.read("<I"), self.read("<Q")
            if element_type in self.SCALARS:  # one numpy read instead of count struct calls
                dtype = np.dtype(self.SCALARS[element_type])
                values = np.frombuffer(self.buffer, dtype=dtype, count=count, offset=self.offset)
                self.offset += count * dtype.itemsize
                return values.tolist()
            return [self.read_value(element_type) for _ in range(count)]
        raise ModelError(f"unknown metadata value type {value_type} at offset {self.offset}")


Q8_0_ACTIVATION_TYPES = {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "IQ4_NL"}


def round_to_f16(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32).astype(np.float16).astype(np.float64)


def round_to_bf16(x: np.ndarray) -> np.ndarray:
    """Keep the top 16 bits of each float32, rounding to nearest even."""
    bits = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000).astype(np.uint32)
    return rounded.view(np.float32).astype(np.float64)


def round_to_q8_0(x: np.ndarray) -> np.ndarray:
    """Blocks of 32 share d = max|x|/127 (stored as F16); values are round-half-away(x/d)."""
    blocks = x.astype(np.float32).reshape(-1, 32)
    d = np.abs(blocks).max(axis=1, keepdims=True) / np.float32(127)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(d == 0, 0, np.trunc(blocks / d + np.copysign(0.5, blocks / d)))
    d16 = d.astype(np.float16).astype(np.float64)
    return (q * d16).reshape(x.shape)


def round_to_q8_k(x: np.ndarray) -> np.ndarray:
    """Blocks of 256: iscale = -127/(the value of largest magnitude), q = min(127, round(iscale*x)),
    d = 1/iscale kept as float32."""
    blocks = x.astype(np.float32).reshape(-1, 256)
    signed_max = np.take_along_axis(blocks, np.abs(blocks).argmax(axis=1)[:, None], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        iscale = np.where(signed_max == 0, 0, np.float32(-127) / signed_max).astype(np.float32)
        q = np.minimum(127, np.rint(iscale * blocks))
        d = np.where(iscale == 0, 0, np.float32(1) / iscale).astype(np.float32)
    return (q * d.astype(np.float64)).reshape(x.shape)


def round_activations(x: np.ndarray, weight_type: GGMLQuantizationType) -> np.ndarray:
    """The rounding llama.cpp's CPU backend applies to activations before a matmul with weights of
    this type (its vec_dot_type): none for F32, F16 for F16, Q8_0 for 32-blocks, Q8_K for K-quants."""
    name = weight_type.name
    if name == "F32":
        return x
    if name == "F16":
        return round_to_f16(x)
    if name == "BF16":
        return round_to_bf16(x)
    if name in Q8_0_ACTIVATION_TYPES:
        return round_to_q8_0(x)
    return round_to_q8_k(x)


class LlamaReference:
    def __init__(self, path: str, emulate_llamacpp: bool = False, quantize_activations: bool = False):
        # Validation aid only: round activations and the KV cache the way llama.cpp's CPU backend does,
        # to show that what remains against its goldens is rounding, not a different computation.
        self.emulate = emulate_llamacpp
        self.quantize = emulate_llamacpp or quantize_activations
        self.file = GGUFFile(path)
        self.tensors = self.file.tensors
        arch = self.metadata("general.architecture")
        if arch != "llama":
            raise ModelError(f"architecture {arch!r} is not llama")
        p = "llama."
        self.embedding_length = int(self.metadata(p + "embedding_length"))
        self.block_count = int(self.metadata(p + "block_count"))
        self.feed_forward_length = int(self.metadata(p + "feed_forward_length"))
        self.head_count = int(self.metadata(p + "attention.head_count"))
        self.head_count_kv = int(self.metadata(p + "attention.head_count_kv", self.head_count))
        self.head_dim = int(self.metadata(p + "attention.key_length", self.embedding_length // self.head_count))
        self.rope_base = float(self.metadata(p + "rope.freq_base", 10000.0))
        self.rope_dimensions = int(self.metadata(p + "rope.dimension_count", self.head_dim))
        self.rms_epsilon = float(self.metadata(p + "attention.layer_norm_rms_epsilon", 1e-5))
        # Linear RoPE scaling (older long-context fine-tunes) divides positions by the factor.
        self.position_scale = 1.0
        if self.metadata(p + "rope.scaling.type", "none") == "linear":
            self.position_scale = 1.0 / float(self.metadata(p + "rope.scaling.factor", 1.0))
        if self.head_count % self.head_count_kv != 0:
            raise ModelError("head_count is not a multiple of head_count_kv")

        self.layers = []
        for i in range(self.block_count):
            b = f"blk.{i}."
            layer = {name: self.weight(b + name + ".weight") for name in (
                "attn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
                "ffn_norm", "ffn_gate", "ffn_up", "ffn_down")}
            layer["types"] = {name: self.tensors[b + name + ".weight"].tensor_type for name in layer}
            for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
                if b + name + ".bias" in self.tensors:
                    layer[name + ".bias"] = self.weight(b + name + ".bias")
            self.layers.append(layer)
        self.output_norm = self.weight("output_norm.weight")
        # Tied embeddings: the output projection is the embedding matrix when output.weight is absent.
        output_name = "output.weight" if "output.weight" in self.tensors else "token_embd.weight"
        self.output = self.weight(output_name)
        self.output_type = self.tensors[output_name].tensor_type
        self.vocab_size = self.output.shape[0]
        self.rope_divisors = np.ones(self.rope_dimensions // 2)
        if "rope_freqs.weight" in self.tensors:
            self.rope_divisors = self.weight("rope_freqs.weight").reshape(-1)[: self.rope_dimensions // 2]
        self.check_shapes()
        self.reset()

    def metadata(self, key: str, default=None):
        value = self.file.fields.get(key)
        if value is None:
            if default is None:
                raise ModelError(f"missing metadata key {key}")
            return default
        return value

    def weight(self, name: str, rows=None) -> np.ndarray:
        """Dequantized tensor as float64, numpy shape (rows, columns) = GGUF ne reversed."""
        tensor = self.tensors.get(name)
        if tensor is None:
            raise ModelError(f"missing tensor {name}")
        data = tensor.data if rows is None else tensor.data[rows]
        values = np.asarray(dequantize(data, tensor.tensor_type), dtype=np.float64)
        return values.reshape(-1) if len(tensor.dims) == 1 else values.reshape(data.shape[0], -1)

    def check_shapes(self):
        d, hd, ff = self.embedding_length, self.head_dim, self.feed_forward_length
        expected = {"attn_q": (self.head_count * hd, d), "attn_k": (self.head_count_kv * hd, d),
                    "attn_v": (self.head_count_kv * hd, d), "attn_output": (d, self.head_count * hd),
                    "ffn_gate": (ff, d), "ffn_up": (ff, d), "ffn_down": (d, ff)}
        for i, layer in enumerate(self.layers):
            for name, shape in expected.items():
                if layer[name].shape != shape:
                    raise ModelError(f"blk.{i}.{name}.weight has shape {layer[name].shape}, expected {shape}")
        if self.output.shape[1] != d:
            raise ModelError(f"output projection has shape {self.output.shape}")

    def reset(self):
        """Forget every position (the KV cache)."""
        self.keys = [np.zeros((0, self.head_count_kv, self.head_dim)) for _ in self.layers]
        self.values = [np.zeros((0, self.head_count_kv, self.head_dim)) for _ in self.layers]

    def rms_norm(self, x: np.ndarray, weight: np.ndarray) -> np.ndarray:
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.rms_epsilon) * weight

    def rope(self, x: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """GGUF "normal" RoPE: rotate adjacent pairs (x[2i], x[2i+1]) of the first rope_dimensions
        of every head by p * base^(-2i/n_rot) / rope_freqs[i]. x: (T, heads, head_dim)."""
        n = self.rope_dimensions
        i = np.arange(n // 2)
        frequencies = self.rope_base ** (-2.0 * i / n) / self.rope_divisors
        angles = (positions * self.position_scale)[:, None] * frequencies[None, :]  # (T, n/2)
        cos, sin = np.cos(angles)[:, None, :], np.sin(angles)[:, None, :]
        out = x.copy()
        even, odd = x[..., 0:n:2], x[..., 1:n:2]
        out[..., 0:n:2] = even * cos - odd * sin
        out[..., 1:n:2] = even * sin + odd * cos
        return out

    def project(self, x: np.ndarray, layer: dict, name: str) -> np.ndarray:
        """x @ Wᵀ (+ bias): W is (out, in), x is (T, in)."""
        if self.quantize:
            x = round_activations(x, layer["types"][name])
        return x @ layer[name].T + layer.get(name + ".bias", 0.0)

    def forward(self, tokens) -> np.ndarray:
        """Append tokens after the cached positions; return logits (len(tokens), vocab)."""
        tokens = np.asarray(tokens, dtype=np.int64)
        if tokens.size == 0:
            raise ModelError("no tokens")
        if tokens.min() < 0 or tokens.max() >= self.vocab_size:
            raise ModelError(f"token id out of range 0..{self.vocab_size - 1}")
        start = self.keys[0].shape[0]
        count = tokens.size
        positions = np.arange(start, start + count, dtype=np.float64)
        group = self.head_count // self.head_count_kv
        scale = 1.0 / np.sqrt(self.head_dim)
        # Query t (absolute position start+t) sees keys 0..start+t.
        visible = np.arange(start + count)[None, :] <= (start + np.arange(count))[:, None]  # (T, S)

        x = self.weight("token_embd.weight", rows=tokens)  # (T, d)
        for index, layer in enumerate(self.layers):
            h = self.rms_norm(x, layer["attn_norm"])
            q = self.project(h, layer, "attn_q")
            k = self.project(h, layer, "attn_k")
            v = self.project(h, layer, "attn_v")
            q = self.rope(q.reshape(count, self.head_count, self.head_dim), positions)
            k = self.rope(k.reshape(count, self.head_count_kv, self.head_dim), positions)
            v = v.reshape(count, self.head_count_kv, self.head_dim)
            if self.emulate:  # F16 KV cache; q and the softmax weights meet it as F16
                q, k, v = round_to_f16(q), round_to_f16(k), round_to_f16(v)
            self.keys[index] = np.concatenate([self.keys[index], k])
            self.values[index] = np.concatenate([self.values[index], v])
            # GQA: query head h reads KV head h // group.
            keys = np.repeat(self.keys[index], group, axis=1)      # (S, heads, hd)
            values = np.repeat(self.values[index], group, axis=1)  # (S, heads, hd)
            scores = np.einsum("thd,shd->hts", q, keys) * scale    # (heads, T, S)
            scores = np.where(visible[None], scores, -np.inf)
            scores -= scores.max(axis=-1, keepdims=True)
            weights = np.exp(scores)
            weights /= weights.sum(axis=-1, keepdims=True)
            if self.emulate:
                weights = round_to_f16(weights)
            attention = np.einsum("hts,shd->thd", weights, values).reshape(count, -1)
            x = x + self.project(attention, layer, "attn_output")

            h = self.rms_norm(x, layer["ffn_norm"])
            gate = self.project(h, layer, "ffn_gate")
            up = self.project(h, layer, "ffn_up")
            x = x + self.project(gate / (1.0 + np.exp(-gate)) * up, layer, "ffn_down")
        x = self.rms_norm(x, self.output_norm)
        self.hidden = x  # the final-normed hidden states (what embeddings pool)
        if self.quantize:
            x = round_activations(x, self.output_type)
        return x @ self.output.T

    def embedding(self, tokens, pooling: str = "mean") -> np.ndarray:
        """One L2-normalised vector for `tokens` (from an empty cache): mean, cls (first) or last hidden state."""
        self.reset()
        self.forward(tokens)
        rows = {"mean": self.hidden.mean(axis=0), "cls": self.hidden[0], "last": self.hidden[-1]}[pooling]
        return rows / np.linalg.norm(rows)


def top_logits(logits: np.ndarray, k: int):
    """The k largest logits as [[id, logit], ...]; equal logits in ascending id order."""
    order = np.argsort(-logits, kind="stable")[:k]
    return [[int(i), round(float(logits[i]), 6)] for i in order]


def run_steps(model: LlamaReference, prompt, steps: int, k: int):
    """Greedy decoding: yield (chosen id, top-k) for the last prompt position, then each fed-back id."""
    model.reset()
    logits = model.forward(prompt)[-1]
    for step in range(steps):
        chosen = int(np.argmax(logits))  # first maximum = lowest id among ties
        yield chosen, top_logits(logits, k), logits
        if step + 1 < steps:
            logits = model.forward([chosen])[-1]


def check_golden(model: LlamaReference, golden_path: str, tolerance: float) -> int:
    """Compare with a llama.cpp golden file: last_top5 values, greedy ids up to the first near-tie."""
    with open(golden_path, encoding="utf-8") as f:
        golden = json.load(f)
    worst = 0.0
    failures = 0
    for prompt in golden["prompts"]:
        greedy = prompt["greedy"]
        margins = prompt["greedy_top1_top2_margin"]
        margins = json.loads(margins) if isinstance(margins, str) else margins
        per_step = prompt["greedy_top5_per_step"]
        per_step = json.loads(per_step) if isinstance(per_step, str) else per_step
        prompt_worst = 0.0
        last_worst = 0.0
        for step, (chosen, _, logits) in enumerate(run_steps(model, prompt["tokens"], len(greedy), 5)):
            if step == 0:
                last_worst = max(abs(float(logits[i]) - value) for i, value in prompt["last_top5"])
            for token, value in per_step[step]:
                prompt_worst = max(prompt_worst, abs(float(logits[token]) - value))
            if chosen != greedy[step]:
                if margins[step] >= tolerance:
                    print(f"  step {step}: id {chosen} != golden {greedy[step]} (margin {margins[step]})")
                    failures += 1
                break
            if margins[step] < tolerance:
                break  # a near-tie: two correct engines may diverge after this step
        print(f"{prompt['prompt'][:40]!r}: last_top5 max |delta| {last_worst:.6f}; "
              f"over {step + 1} greedy steps {prompt_worst:.6f}")
        worst = max(worst, prompt_worst)
    print(f"max |delta| {worst:.6f}")
    return 1 if failures or worst > tolerance else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("--tokens", help="comma-separated prompt ids")
    parser.add_argument("--greedy", type=int, default=1, help="number of step lines (default 1)")
    parser.add_argument("--top", type=int, default=5, help="logits per step line (default 5)")
    parser.add_argument("--check-golden", metavar="JSON", help="compare with a llama.cpp golden file")
    parser.add_argument("--emulate-llamacpp", action="store_true",
                        help="validation aid: round activations and KV cache like llama.cpp's CPU backend")
    parser.add_argument("--quantize-activations", action="store_true",
                        help="round each matrix product's input to the weight format's activation blocks")
    parser.add_argument("--tolerance", type=float, default=2e-2, help="for --check-golden (default 0.02)")
    args = parser.parse_args(argv)
    try:
        model = LlamaReference(args.model, emulate_llamacpp=args.emulate_llamacpp,
                               quantize_activations=args.quantize_activations)
        if args.check_golden:
            return check_golden(model, args.check_golden, args.tolerance)
        if not args.tokens:
            parser.error("--tokens is required")
        try:
            prompt = [int(t) for t in args.tokens.split(",") if t.strip()]
        except ValueError:
            parser.error(f"--tokens must be comma-separated integers: {args.tokens!r}")
        if not prompt or min(prompt) < 0 or max(prompt) >= model.vocab_size:
            raise ModelError(f"--tokens needs ids in 0..{model.vocab_size - 1}")
        print(json.dumps({"prompt": prompt}), flush=True)
        for chosen, top, _ in run_steps(model, prompt, max(args.greedy, 1), max(args.top, 1)):
            print(json.dumps({"id": chosen, "top": top}), flush=True)
    except (ModelError, OSError, ValueError, KeyError, ZeroDivisionError, struct.error) as error:
        print(f"reference_forward: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
