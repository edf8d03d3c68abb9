#!/usr/bin/env python3
"""Puts llama.cpp's Llama 3 (BPE), Llama 2 (SentencePiece), Qwen 2 (BPE) and Phi-3 (SentencePiece)
vocabulary GGUFs and their tokenizer test vectors into testdata/vocab/, each checked against the SHA-256 pinned below.

They come from the llama-cpp-python sdist on PyPI, which vendors llama.cpp's models/ folder. The sdist
is downloaded once into .cache/downloads/ and verified before anything is read from it. A folder given
with --cache (e.g. ../shared/testdata/vocab) is used first where it holds a file with the pinned hash;
it is never required.

    fetch_vocab.py --out testdata/vocab [--downloads .cache/downloads] [--cache DIR]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tarfile
import urllib.request

PACKAGE, VERSION = "llama-cpp-python", "0.3.36"
SDIST = "llama_cpp_python-0.3.36.tar.gz"
SDIST_SHA256 = "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
MEMBER_DIR = "llama_cpp_python-0.3.36/vendor/llama.cpp/models/"
FILES = {
    "ggml-vocab-llama-bpe.gguf": "97272e430d53bc7688f52d5e0ad8ea8f163ede9f1bbd1694feaa504797d5d96e",
    "ggml-vocab-llama-bpe.gguf.inp": "be0a11f7071f0c67d3053a2d377d8f35f0dbcb77ff11a60300fb57d36b477cf0",
    "ggml-vocab-llama-bpe.gguf.out": "118abf2034a197fc5c9dec5204dfdeee7004c7c70952ae577f66b99e212fab9b",
    "ggml-vocab-llama-spm.gguf": "16c3724582d59aa8bf84711894e833f916ee46a31d80e21312759c48bf8d0e69",
    "ggml-vocab-llama-spm.gguf.inp": "be0a11f7071f0c67d3053a2d377d8f35f0dbcb77ff11a60300fb57d36b477cf0",
    "ggml-vocab-llama-spm.gguf.out": "ad6905c925c49c022974fe67e030382e8a4f56eb4489a0b9481dcedb1ec73b29",
    # The synthetic Qwen 2/3 and Phi-3 models' tokenizers.
    "ggml-vocab-qwen2.gguf": "44c2f46b715f585c6ab513970e8a006bfa5badd6108560054921cf598d154d8c",
    "ggml-vocab-qwen2.gguf.inp": "be0a11f7071f0c67d3053a2d377d8f35f0dbcb77ff11a60300fb57d36b477cf0",
    "ggml-vocab-qwen2.gguf.out": "de785bb305cc6fa9d43908ed5da337f853c0b79e971348fcfb9f0915a39c5363",
    "ggml-vocab-phi-3.gguf": "967d7190d11c4842eab697079d98d56c2116e10eb617be355a2733bfc132e326",
    "ggml-vocab-phi-3.gguf.inp": "be0a11f7071f0c67d3053a2d377d8f35f0dbcb77ff11a60300fb57d36b477cf0",
    "ggml-vocab-phi-3.gguf.out": "ad6905c925c49c022974fe67e030382e8a4f56eb4489a0b9481dcedb1ec73b29",
}


def sha256_of(path: str) -> str | None:
    if not os.path.isfile(path):
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sdist_url() -> str:
    """The sdist's address from PyPI's simple index (JSON form), so a moved file is still found."""
    request = urllib.request.Request(
        f"https://pypi.org/simple/{PACKAGE}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        index = json.load(response)
    for entry in index.get("files", []):
        if entry.get("filename") == SDIST:
            return entry["url"]
    raise RuntimeError(f"PyPI's index for {PACKAGE} lists no {SDIST}")


def fetch_sdist(downloads: str) -> str:
    path = os.path.join(downloads, SDIST)
    if sha256_of(path) == SDIST_SHA256:
        return path
    os.makedirs(downloads, exist_ok=True)
    partial = path + ".partial"
    url = sdist_url()
    print(f"fetch-vocab: downloading {url}", file=sys.stderr)
    with urllib.request.urlopen(url, timeout=120) as response, open(partial, "wb") as out:
        shutil.copyfileobj(response, out, 1 << 20)
    got = sha256_of(partial)
    if got != SDIST_SHA256:
        os.remove(partial)
        raise RuntimeError(f"{SDIST}: SHA-256 {got}, expected {SDIST_SHA256}")
    os.replace(partial, path)
    return path


def install(source, target: str, expected: str) -> None:
    """Copies a file object to target through a temporary name, checking its hash on the way."""
    partial = target + ".partial"
    digest = hashlib.sha256()
    with open(partial, "wb") as out:
        for chunk in iter(lambda: source.read(1 << 20), b""):
            digest.update(chunk)
            out.write(chunk)
    if digest.hexdigest() != expected:
        os.remove(partial)
        raise RuntimeError(f"{os.path.basename(target)}: SHA-256 {digest.hexdigest()}, expected {expected}")
    os.replace(partial, target)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--downloads", default=".cache/downloads")
    parser.add_argument("--cache", action="append", default=[], help="folder to try first (hash-checked)")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    missing = []
    for name, expected in FILES.items():
        target = os.path.join(args.out, name)
        if sha256_of(target) == expected:
            continue
        cached = next((os.path.join(c, name) for c in args.cache
                       if sha256_of(os.path.join(c, name)) == expected), None)
        if cached:
            with open(cached, "rb") as source:
                install(source, target, expected)
        else:
            missing.append(name)
    if not missing:
        return 0

    try:
        sdist = fetch_sdist(args.downloads)
        with tarfile.open(sdist, "r:gz") as archive:
            for name in missing:
                member = archive.extractfile(MEMBER_DIR + name)
                if member is None:
                    raise RuntimeError(f"{SDIST} has no regular file {MEMBER_DIR + name}")
                install(member, os.path.join(args.out, name), FILES[name])
    except (OSError, RuntimeError, KeyError, tarfile.TarError) as error:
        print(f"fetch-vocab: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
