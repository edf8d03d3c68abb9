"""The server on a real Gemma 3 270M (architecture gemma3, no chat template in the file: the built-in gemma
format is chosen from its <start_of_turn> token) through the openai client and the raw routes."""
from pathlib import Path

import openai
import pytest

from conftest import ROOT, Runner

GEMMA = ROOT / ".cache/models/gemma-3-270m-q4_k_m.gguf"


@pytest.fixture(scope="module")
def gemma():
    if not GEMMA.exists():
        pytest.fail(f"model not found at {GEMMA}: run `make models` (Tools/fetch-gemma3.sh)")
    s = Runner(model=GEMMA)
    yield s
    s.stop()


def test_chat_uses_the_gemma_format(gemma):
    status, _, body = gemma.json("POST", "/apply-template", {"messages": [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]})
    assert status == 200, body
    assert body["prompt"] == "<bos><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\n", body


def test_openai_chat_and_completion(gemma):
    client = openai.OpenAI(base_url=gemma.base + "/v1", api_key="none")
    chat = client.chat.completions.create(model="gemma", temperature=0, max_tokens=24,
                                          messages=[{"role": "user", "content": "What is the capital of France?"}])
    answer = chat.choices[0].message.content
    assert answer and answer.strip(), chat
    assert chat.choices[0].finish_reason in ("stop", "length")
    # <end_of_turn> ends a turn and never shows up as text.
    assert "<end_of_turn>" not in answer and "<start_of_turn>" not in answer
    completion = client.completions.create(model="gemma", prompt="The capital of France is", temperature=0, max_tokens=12)
    # The same greedy text llama.cpp gives for this prompt (testdata/goldens/gemma-3-270m-q4_k_m.json).
    assert completion.choices[0].text.startswith(" the capital of the country of France"), completion


def test_props_show_the_builtin_template(gemma):
    status, _, body = gemma.json("GET", "/props")
    assert status == 200
    assert "<start_of_turn>" in body["chat_template"] and body["bos_token"] == "<bos>", body
