"""The official openai package against a real runner on SmolLM2."""
import openai
import pytest
from openai import OpenAI

from conftest import API_KEY

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def client(server):
    return OpenAI(base_url=server.base + "/v1", api_key="unused", max_retries=0)


def test_models_list(client):
    models = client.models.list()
    assert [m.id for m in models.data] == ["SmolLM2-135M-Instruct.Q4_1.gguf"]
    assert models.data[0].object == "model"


def test_chat_completion(client):
    reply = client.chat.completions.create(model="smol", messages=QUESTION, max_tokens=24, temperature=0)
    assert reply.object == "chat.completion"
    assert reply.model == "smol"  # echoed, as llama.cpp does
    assert reply.id.startswith("chatcmpl-")
    choice = reply.choices[0]
    assert choice.message.role == "assistant"
    # Greedy SmolLM2 here starts near a tie ("The" vs "L"), so only the shape is checked; the legacy
    # completion test checks a clear answer.
    assert choice.message.content.strip()
    assert choice.finish_reason in ("stop", "length")
    assert reply.usage.completion_tokens > 0
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    timings = reply.model_extra["timings"]
    assert timings["predicted_n"] == reply.usage.completion_tokens
    assert timings["predicted_per_second"] > 0


def test_chat_stream_matches_non_stream(client):
    whole = client.chat.completions.create(model="smol", messages=QUESTION, max_tokens=24, temperature=0)
    chunks = list(client.chat.completions.create(model="smol", messages=QUESTION, max_tokens=24, temperature=0,
                                                 stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert len({c.id for c in chunks}) == 1 and len({c.created for c in chunks}) == 1
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finals) == 1 and finals[0].choices[0].finish_reason == whole.choices[0].finish_reason
    assert finals[0].model_extra["timings"]["predicted_n"] == whole.usage.completion_tokens
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == whole.usage.completion_tokens


def test_stop_string_not_included(client):
    whole = client.chat.completions.create(model="smol", messages=QUESTION, max_tokens=24, temperature=0).choices[0].message.content
    stop = whole[8:12]
    reply = client.chat.completions.create(model="smol", messages=QUESTION, max_tokens=24, temperature=0, stop=[stop])
    assert reply.choices[0].message.content == whole[:whole.index(stop)]
    assert reply.choices[0].finish_reason == "stop"


def test_legacy_completion(client):
    reply = client.completions.create(model="smol", prompt="The capital of France is", max_tokens=3, temperature=0)
    assert reply.choices[0].text.startswith(" Paris")
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage.completion_tokens == 3


def test_seeded_sampling_is_reproducible(client):
    args = dict(model="smol", messages=[{"role": "user", "content": "Tell me a story."}], max_tokens=16, temperature=0.9, seed=42)
    first = client.chat.completions.create(**args).choices[0].message.content
    second = client.chat.completions.create(**args).choices[0].message.content
    assert first == second


def test_bad_request_raises(client):
    with pytest.raises(openai.BadRequestError) as error:
        client.chat.completions.create(model="smol", messages=QUESTION, max_tokens=-5)
    assert "max_tokens" in str(error.value)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="smol", messages=[{"role": "wizard", "content": "x"}])


def test_wrong_key_raises_authentication_error(keyed_server):
    wrong = OpenAI(base_url=keyed_server.base + "/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.models.list()
    right = OpenAI(base_url=keyed_server.base + "/v1", api_key=API_KEY, max_retries=0)
    assert right.models.list().data[0].id
