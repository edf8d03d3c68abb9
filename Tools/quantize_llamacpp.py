#!/usr/bin/env python3
"""Quantize a GGUF with llama.cpp's own quantizer (llama-cpp-python's llama_model_quantize), the way
`llama-quantize IN OUT TYPE` does: K-quant and I-quant mixtures (Q4_K_M keeps some tensors in Q6_K, …)
exactly as people download them.

    quantize_llamacpp.py IN.gguf OUT.gguf TYPE [--threads N]

TYPE is a llama-quantize name: Q2_K, Q3_K_S, Q3_K_M, Q3_K_L, Q4_K_S, Q4_K_M, Q5_K_S, Q5_K_M, Q6_K, IQ4_NL,
IQ4_XS, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0. Writes OUT.partial first, so an interrupted run leaves no file that
looks finished. Needs Tools/setup-llamacpp.sh's venv.
"""
import argparse
import ctypes
import os
import sys

import llama_cpp

TYPES = ["Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K",
         "IQ4_NL", "IQ4_XS", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("type", choices=TYPES)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, "LLAMA_FTYPE_MOSTLY_" + args.type)
    params.nthread = args.threads
    partial = args.output + ".partial"
    llama_cpp.llama_backend_init()
    status = llama_cpp.llama_model_quantize(args.input.encode(), partial.encode(), ctypes.byref(params))
    if status != 0 or not os.path.isfile(partial):
        print(f"quantize_llamacpp: llama_model_quantize({args.type}) failed with status {status}", file=sys.stderr)
        if os.path.exists(partial):
            os.remove(partial)
        return 1
    os.replace(partial, args.output)
    print(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
