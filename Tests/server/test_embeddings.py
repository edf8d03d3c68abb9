"""Embeddings: /v1/embeddings with the openai client on SmolLM2, llama.cpp's /embedding, and agreement with the
independent float64 reference (Tools/reference_forward.py) on the tiny F32 model."""
import base64
import math
import struct
import sys

import numpy as np
import pytest
from openai import OpenAI

from conftest import ROOT, Runner

sys.path.insert(0, str(ROOT / "Tools"))
from reference_forward import LlamaReference  # noqa: E402


def norm(v):
    return math.sqrt(sum(x * x for x in v))


def cosine(a, b):
    return sum(x * y for x, y in zip(a, b)) / (norm(a) * norm(b))


@pytest.fixture(scope="module")
def client(server):
    return OpenAI(base_url=server.base + "/v1", api_key="unused", max_retries=0)


def test_openai_embeddings(client, server):
    one = client.embeddings.create(model="smol", input="The cat sat on the mat.")
    assert one.object == "list" and len(one.data) == 1 and one.data[0].index == 0
    vector = one.data[0].embedding
    assert len(vector) == 576  # SmolLM2-135M's width
    assert abs(norm(vector) - 1) < 1e-5
    assert one.usage.prompt_tokens == one.usage.total_tokens > 3
    texts = ["The cat sat on the mat.", "A cat was sitting on a mat.", "Quarterly revenue grew by 12 percent."]
    many = client.embeddings.create(model="smol", input=texts)
    assert [d.index for d in many.data] == [0, 1, 2]
    vectors = [d.embedding for d in many.data]
    assert max(abs(a - b) for a, b in zip(vectors[0], vector)) < 1e-5, "same text, same vector, batched or not"
    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2])
    # Token ids, and base64 (little-endian float32) decoding to the same numbers.
    status, _, tokens = server.json("POST", "/tokenize", {"content": texts[0], "add_special": True})
    by_ids = client.embeddings.create(model="smol", input=tokens["tokens"]).data[0].embedding
    assert max(abs(a - b) for a, b in zip(by_ids, vector)) < 1e-5
    status, _, raw = server.json("POST", "/v1/embeddings", {"input": texts[0], "encoding_format": "base64"})
    assert status == 200
    decoded = struct.unpack(f"<{576}f", base64.b64decode(raw["data"][0]["embedding"]))
    assert max(abs(a - b) for a, b in zip(decoded, vector)) < 1e-6
    # llama.cpp's /embedding.
    status, _, native = server.json("POST", "/embedding", {"content": texts[0]})
    assert status == 200 and native[0]["index"] == 0
    assert len(native[0]["embedding"]) == 1, "llama.cpp's nesting: one row for a pooled input"
    assert max(abs(a - b) for a, b in zip(native[0]["embedding"][0], vector)) < 1e-5


@pytest.mark.parametrize("body, message", [
    ({"input": []}, "'input' must be"),
    ({"input": [1, "a"]}, "input[0] must be"),
    ({"input": [[999999]]}, "token ids in 0..<49152"),
    ({"input": "x", "encoding_format": "int8"}, "'encoding_format' must be float or base64"),
    ({"input": "word " * 5000}, "context"),
    ({}, "'input' is required"),
])
def test_bad_embedding_requests(server, body, message):
    status, _, reply = server.json("POST", "/v1/embeddings", body)
    assert status == 400, reply
    assert message in reply["error"]["message"], reply["error"]["message"]


def test_agreement_with_the_float64_reference():
    model = ROOT / "testdata/models/tiny-llama3-f32.gguf"
    runner = Runner("-ctk", "f32", "-ctv", "f32", "--embeddings", model=model)  # llama.cpp's flag is accepted
    try:
        reference = LlamaReference(str(model))
        for pooling in ["mean"]:
            for ids in ([128000, 791, 6864, 315, 9822, 374], [128000] + list(range(1000, 1040))):
                status, _, reply = runner.json("POST", "/v1/embeddings", {"input": ids})
                assert status == 200, reply
                ours = np.array(reply["data"][0]["embedding"])
                theirs = reference.embedding(ids, pooling)
                assert float(ours @ theirs) >= 0.9999, (pooling, float(ours @ theirs))
    finally:
        runner.stop()
