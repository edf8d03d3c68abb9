"""Structured output against a real runner on SmolLM2: grammars, JSON Schema, response_format, logprobs.

Every constraint is enforced or refused with a 400; nothing is answered unconstrained.
"""
import enum
import json
import math
import subprocess
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, List

import jsonschema
import pydantic
import pytest
from openai import OpenAI

from conftest import BIN, MODEL

PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 24},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "job": {"enum": ["doctor", "teacher", "farmer", "pilot"]},
        "hobbies": {"type": "array", "items": {"type": "string", "maxLength": 16}, "maxItems": 3},
        "married": {"type": "boolean"},
    },
    "required": ["name", "age", "job", "hobbies", "married"],
    "additionalProperties": False,
}
ASK = [{"role": "user", "content": "Describe a person as JSON."}]


@pytest.fixture(scope="module")
def client(server):
    return OpenAI(base_url=server.base + "/v1", api_key="unused", max_retries=0)


class Job(str, enum.Enum):
    doctor = "doctor"
    teacher = "teacher"
    farmer = "farmer"


class Address(pydantic.BaseModel):
    city: str = pydantic.Field(max_length=24)
    zip_code: str = pydantic.Field(pattern=r"^[0-9]{5}$")


class Person(pydantic.BaseModel):
    """Bounded strings and lists, as an app would write it for a small model (an unbounded list lets a
    135M model repeat one item until max_tokens)."""
    name: str = pydantic.Field(max_length=20)
    age: int = pydantic.Field(ge=0, le=120)
    job: Job
    skills: List[Annotated[str, pydantic.Field(max_length=16)]] = pydantic.Field(max_length=3)
    address: Address


def test_openai_parse_returns_a_pydantic_object(client):
    parse = client.chat.completions.parse if hasattr(client.chat.completions, "parse") else client.beta.chat.completions.parse
    completion = parse(model="smol", messages=[{"role": "user", "content": "Invent a person with an address."}],
                       response_format=Person, max_tokens=300, temperature=0)
    choice = completion.choices[0]
    assert choice.finish_reason == "stop", choice.message.content
    person = choice.message.parsed
    assert isinstance(person, Person)
    assert isinstance(person.address, Address)
    assert isinstance(person.job, Job)
    assert all(isinstance(s, str) and len(s) <= 16 for s in person.skills) and len(person.skills) <= 3
    assert len(person.address.zip_code) == 5 and person.address.zip_code.isdigit()
    assert 0 <= person.age <= 120


def test_hundred_sampled_generations_validate(client):
    """Temperature 1.0, 100 seeds: every answer is JSON that validates against the schema."""
    fmt = {"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON, "strict": True}}

    def one(seed):
        reply = client.chat.completions.create(model="smol", messages=ASK, response_format=fmt, temperature=1.0,
                                               seed=seed, max_tokens=400)
        return reply.choices[0].finish_reason, reply.choices[0].message.content

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(one, range(100)))
    for seed, (finish, text) in enumerate(answers):
        assert finish == "stop", f"seed {seed}: {finish}: {text!r}"
        jsonschema.validate(json.loads(text), PERSON)
    assert len({text for _, text in answers}) > 50, "sampling at temperature 1 should vary the answers"


def test_json_object_stream_and_completions_routes(server, client):
    # Chat, streamed, json_object: the deltas join into one JSON object.
    stream = client.chat.completions.create(model="smol", messages=ASK, response_format={"type": "json_object"},
                                            temperature=0.7, seed=3, max_tokens=300, stream=True)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert isinstance(json.loads(text), dict)
    # Legacy completions with a schema.
    reply = client.completions.create(model="smol", prompt="A person as JSON: ", max_tokens=300, temperature=0.5, seed=1,
                                      extra_body={"response_format": {"type": "json_schema", "json_schema": {"name": "p", "schema": PERSON}}})
    jsonschema.validate(json.loads(reply.choices[0].text), PERSON)
    # llama.cpp's /completion with json_schema and with a GBNF grammar.
    status, _, body = server.json("POST", "/completion", {"prompt": "A person as JSON: ", "n_predict": 300, "json_schema": PERSON})
    assert status == 200, body
    jsonschema.validate(json.loads(body["content"]), PERSON)
    status, _, body = server.json("POST", "/completion", {"prompt": "Is the sky blue? Answer:", "n_predict": 8, "temperature": 1.0,
                                                          "grammar": 'root ::= " " ("yes" | "no") "."'})
    assert status == 200, body
    assert body["content"] in (" yes.", " no."), body["content"]
    assert body["stop_type"] == "eos"


def test_cut_short_is_length(client):
    reply = client.chat.completions.create(model="smol", messages=ASK, max_tokens=5, temperature=0,
                                           response_format={"type": "json_schema", "json_schema": {"name": "p", "schema": PERSON}})
    assert reply.choices[0].finish_reason == "length"
    assert reply.choices[0].message.content.startswith("{")


@pytest.mark.parametrize("body, message", [
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {
        "type": "object", "patternProperties": {"^a": {"type": "string"}}}}}},
     "unsupported JSON Schema keyword 'patternProperties'"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "number", "multipleOf": 3}}}},
     "unsupported JSON Schema keyword 'multipleOf'"),
    ({"response_format": {"type": "json_schema", "schema": {"type": "object"}}},
     "put it in response_format.json_schema.schema"),
    ({"response_format": {"type": "xml"}}, "response_format.type \"xml\" is not one of"),
    ({"grammar": "root ::= \"a\"", "json_schema": {"type": "string"}}, "more than one output constraint"),
    ({"grammar": "root ::= foo"}, "line 1, column 10: undefined rule 'foo'"),
    ({"grammar": "root ::= \"a\"\nx ::= [b-a]"}, "line 2, column 7: character range with its end before its start"),
    ({"grammar": "root ::= root \"a\""}, "left-recursive"),
    ({"logprobs": True, "top_logprobs": 21}, "'top_logprobs' must be between 0 and 20"),
    ({"top_logprobs": 2}, "'top_logprobs' needs 'logprobs': true"),
])
def test_constraints_we_cannot_honour_are_400(server, body, message):
    status, _, reply = server.json("POST", "/v1/chat/completions", {"messages": ASK, "max_tokens": 4, **body})
    assert status == 400, reply
    assert message in reply["error"]["message"], reply["error"]["message"]


def cli_log_softmax(prompt, steps):
    """log-softmax of every logit of the first `steps` generated positions, from the CLI's --top-logits."""
    vocabulary = 49152
    out = subprocess.run([str(BIN), "-m", str(MODEL), "-p", prompt, "-n", str(steps), "--temp", "0",
                          "--top-logits", str(vocabulary), "--log-disable", "-c", "256"],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    result = []
    for line in out.splitlines():
        record = json.loads(line)
        if "top" not in record:
            continue
        logits = {int(i): float(v) for i, v in record["top"]}
        peak = max(logits.values())
        log_sum = peak + math.log(sum(math.exp(v - peak) for v in logits.values()))
        result.append((record["id"], {i: v - log_sum for i, v in logits.items()}))
    return result


def test_logprobs_are_the_models_log_softmax(server, client):
    prompt = "The capital of France is"
    expected = cli_log_softmax(prompt, 3)
    reply = client.completions.create(model="smol", prompt=prompt, max_tokens=3, temperature=0, logprobs=5)
    lp = reply.choices[0].logprobs
    assert len(lp.token_logprobs) == 3
    for step, (chosen, table) in enumerate(expected):
        assert abs(lp.token_logprobs[step] - table[chosen]) < 1e-4
        best = sorted(table.items(), key=lambda kv: -kv[1])[:5]
        got = list(lp.top_logprobs[step].items())
        assert len(got) == 5
        for (_, want), (_, value) in zip(best, got):
            assert abs(value - want) < 1e-4
    # Chat, streamed: one entry per token, bytes joining into the content; top_logprobs as asked.
    stream = client.chat.completions.create(model="smol", messages=ASK, max_tokens=12, temperature=0, logprobs=True,
                                            top_logprobs=3, stream=True)
    content, entries = "", []
    for chunk in stream:
        if not chunk.choices:
            continue
        content += chunk.choices[0].delta.content or ""
        if chunk.choices[0].logprobs and chunk.choices[0].logprobs.content:
            entries += chunk.choices[0].logprobs.content
    assert len(entries) == 12
    assert bytes(b for e in entries for b in e.bytes).decode() == content
    for e in entries:
        assert len(e.top_logprobs) == 3
        assert e.top_logprobs[0].logprob >= e.top_logprobs[1].logprob >= e.top_logprobs[2].logprob
        assert e.token == e.top_logprobs[0].token and e.logprob == e.top_logprobs[0].logprob  # greedy: the most likely
    # llama.cpp's n_probs on /completion.
    status, _, body = server.json("POST", "/completion", {"prompt": prompt, "n_predict": 2, "temperature": 0, "n_probs": 2})
    assert status == 200
    probs = body["completion_probabilities"]
    assert [p["id"] for p in probs] == [chosen for chosen, _ in expected[:2]]
    assert abs(probs[0]["logprob"] - expected[0][1][expected[0][0]]) < 1e-4
    assert len(probs[0]["top_logprobs"]) == 2
