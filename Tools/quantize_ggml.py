#!/usr/bin/env python3
"""llama.cpp's own block quantizers (ggml_quantize_chunk in libggml-base, loaded from Tools/setup-llamacpp.sh's
venv) for formats that llama_model_quantize refuses without an importance matrix (IQ1_S, IQ1_M, IQ2_XXS,
IQ2_XS, IQ2_S) and for IQ3_XXS/IQ3_S.

As a module: quantize(values float32 [rows, n_per_row], type_name) -> uint8 block bytes, with an
importance matrix of ones unless one is given (every column equally important).

As a program, the equivalent of `llama-quantize --pure`: every 2-D weight of IN (F16/F32) in TYPE, the
rest copied, general.file_type set to llama.cpp's ftype number:

    quantize_ggml.py IN.gguf OUT.gguf TYPE [--token-embd TYPE2] [--share-layers]

--token-embd stores token_embd.weight (with tied embeddings also the output matrix) in TYPE2, as
llama.cpp's mixtures give it a type of its own. --share-layers (benchmark files only) quantizes the
first layer and writes its bytes for every layer: the I-quant searches take minutes per type on a 1B
model, and the speed of a forward pass does not depend on the values.
"""
import argparse
import ctypes
import glob
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.environ.get("LLAMACPP_VENV", os.path.join(ROOT, ".cache", "llamacpp-venv"))

# ggml_type numbers and llama_ftype numbers (facts from ggml.h / llama.h).
GGML_TYPES = {"IQ2_XXS": 16, "IQ2_XS": 17, "IQ3_XXS": 18, "IQ1_S": 19, "IQ4_NL": 20, "IQ3_S": 21, "IQ2_S": 22,
              "IQ4_XS": 23, "IQ1_M": 29, "Q4_K": 12, "Q6_K": 14, "Q8_0": 8}
FTYPES = {"IQ2_XXS": 19, "IQ2_XS": 20, "IQ3_XXS": 23, "IQ1_S": 24, "IQ4_NL": 25, "IQ3_S": 26, "IQ2_S": 28,
          "IQ4_XS": 30, "IQ1_M": 31}

_lib = None


def library():
    global _lib
    if _lib is None:
        found = glob.glob(os.path.join(VENV, "lib", "python3*", "site-packages", "llama_cpp", "lib", "libggml-base.so"))
        if not found:
            raise SystemExit(f"quantize_ggml: libggml-base.so not found under {VENV}: run Tools/setup-llamacpp.sh")
        _lib = ctypes.CDLL(found[0])
        _lib.ggml_quantize_chunk.restype = ctypes.c_size_t
        _lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                             ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
        _lib.ggml_row_size.restype = ctypes.c_size_t
        _lib.ggml_row_size.argtypes = [ctypes.c_int, ctypes.c_int64]
        _lib.ggml_quantize_init.restype = None
        _lib.ggml_quantize_init.argtypes = [ctypes.c_int]
    return _lib


def quantize(values, type_name, imatrix=None):
    lib = library()
    kind = GGML_TYPES[type_name]
    values = np.ascontiguousarray(values, dtype=np.float32)
    rows, n_per_row = values.shape
    row_bytes = lib.ggml_row_size(kind, n_per_row)
    out = np.zeros(rows * row_bytes, dtype=np.uint8)
    weights = np.ascontiguousarray(imatrix if imatrix is not None else np.ones(n_per_row), dtype=np.float32)
    lib.ggml_quantize_init(kind)  # its tables, once, before threads use them

    def chunk(first):  # ctypes lets go of the GIL during the call: row ranges run in parallel
        count = min(rows - first, step)
        written = lib.ggml_quantize_chunk(kind, values[first:].ctypes.data, out[first * row_bytes:].ctypes.data,
                                          0, count, n_per_row, weights.ctypes.data)
        assert written == count * row_bytes, (type_name, written, count * row_bytes)

    step = max(1, -(-rows // (4 * (os.cpu_count() or 1))))
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        list(pool.map(chunk, range(0, rows, step)))
    return out


def main() -> int:
    import gguf
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("type", choices=sorted(FTYPES))
    parser.add_argument("--token-embd", choices=sorted(GGML_TYPES), default=None)
    parser.add_argument("--share-layers", action="store_true")
    args = parser.parse_args()
    reader = gguf.GGUFReader(args.input)
    arch = reader.fields["general.architecture"].contents()
    writer = gguf.GGUFWriter(args.output + ".partial", arch)
    for name, field in reader.fields.items():
        if name.startswith("GGUF.") or name in ("general.architecture", "general.file_type"):
            continue
        value = field.contents()
        kind = field.types[0]
        sub = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(name, value, kind, sub_type=sub)
    writer.add_file_type(FTYPES[args.type])
    first_layer = {}  # role (name without "blk.N.") -> bytes, with --share-layers
    for tensor in reader.tensors:
        shape = [int(x) for x in reversed(tensor.shape.tolist())]  # rows first
        data = tensor.data
        if len(shape) == 2 and tensor.name.endswith(".weight") and shape[1] % 256 == 0 and \
                tensor.tensor_type in (gguf.GGMLQuantizationType.F16, gguf.GGMLQuantizationType.F32):
            kind = args.token_embd if tensor.name == "token_embd.weight" and args.token_embd else args.type
            parts = tensor.name.split(".")
            role = ".".join(parts[2:]) if args.share_layers and parts[0] == "blk" else None
            if role is not None and role in first_layer:
                blocks = first_layer[role]
            else:
                blocks = quantize(np.asarray(data, dtype=np.float32).reshape(shape), kind)
                if role is not None:
                    first_layer[role] = blocks
            writer.add_tensor(tensor.name, blocks.reshape(shape[0], -1), raw_dtype=gguf.GGMLQuantizationType[kind])
        else:
            writer.add_tensor(tensor.name, np.asarray(data), raw_dtype=tensor.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(args.output + ".partial", args.output)
    print(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
