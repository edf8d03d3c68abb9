#!/usr/bin/env python3
"""Our /v1/embeddings against llama.cpp's embeddings of the same GGUF and texts (run with .cache/llamacpp-venv/bin/python
after Tools/setup-llamacpp.sh).

  compare_embeddings_llamacpp.py -m MODEL.gguf [--swiftfile BIN] [--pooling mean|cls|last] [TEXT ...]

Starts `swiftfile --server` on a free port, asks it for each text's embedding, computes llama.cpp's with
llama-cpp-python (embedding=True, the same pooling, L2-normalised), and prints the cosine of each pair, the token
counts both sides saw, and a summary line with the smallest cosine. Exit status 1 when a cosine is below 0.999.
"""
import argparse
import json
import math
import socket
import subprocess
import time
import urllib.request

import llama_cpp

TEXTS = ["The cat sat on the mat.", "Quarterly revenue grew by 12 percent.",
         "def fibonacci(n):\n    return n if n < 2 else fibonacci(n - 1) + fibonacci(n - 2)",
         "Paris is the capital and largest city of France, with an estimated population of two million."]
POOLING = {"mean": llama_cpp.LLAMA_POOLING_TYPE_MEAN, "cls": llama_cpp.LLAMA_POOLING_TYPE_CLS,
           "last": llama_cpp.LLAMA_POOLING_TYPE_LAST}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(port, path, body):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=300) as response:
        return json.loads(response.read())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-m", "--model", required=True)
    parser.add_argument("--swiftfile", default=".build/release/swiftfile")
    parser.add_argument("--pooling", default="mean", choices=sorted(POOLING))
    parser.add_argument("texts", nargs="*")
    args = parser.parse_args()
    texts = args.texts or TEXTS

    port = free_port()
    server = subprocess.Popen([args.swiftfile, "-m", args.model, "--server", "--port", str(port), "-np", "1", "-c", "2048",
                               "--pooling", args.pooling, "--log-disable"], stdout=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        llm = llama_cpp.Llama(model_path=args.model, embedding=True, pooling_type=POOLING[args.pooling], n_ctx=2048,
                              n_threads=2, n_batch=2048, n_ubatch=2048, verbose=False)
        worst = 1.0
        for text in texts:
            ours = post(port, "/v1/embeddings", {"input": text})
            theirs = llm.embed(text, normalize=True)
            theirs = theirs[0] if theirs and isinstance(theirs[0], list) else theirs
            a = ours["data"][0]["embedding"]
            cosine = sum(x * y for x, y in zip(a, theirs)) / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in theirs)))
            worst = min(worst, cosine)
            print(json.dumps({"text": text[:40], "tokens_ours": ours["usage"]["prompt_tokens"],
                              "tokens_llama_cpp": len(llm.tokenize(text.encode(), add_bos=True, special=False)),
                              "dimensions": len(a), "cosine": round(cosine, 7)}))
        print(f"embeddings vs llama.cpp ({args.pooling} pooling): {len(texts)} texts, smallest cosine {worst:.7f}")
        return 0 if worst >= 0.999 else 1
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    raise SystemExit(main())
