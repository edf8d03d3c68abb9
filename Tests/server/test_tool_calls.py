"""Tool calling against real runners: SmolLM2 (a ChatML template without tool support: the built-in Hermes
format) and a tiny Llama 3 model carrying Llama 3.1 Instruct's template (its JSON call format)."""
import json

import pytest
from openai import OpenAI

from conftest import ROOT, Runner

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 40},
                                                    "unit": {"enum": ["celsius", "fahrenheit"]}},
                   "required": ["city"], "additionalProperties": False}}}
CLOCK = {"type": "function", "function": {
    "name": "get_time", "description": "Local time in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 40}},
                   "required": ["city"], "additionalProperties": False}}}
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]


@pytest.fixture(scope="module")
def client(server):
    return OpenAI(base_url=server.base + "/v1", api_key="unused", max_retries=0)


def collect_stream(stream):
    """Rebuilds a streamed answer as OpenAI clients do: content, and tool calls from their deltas by index."""
    content, calls, finish, first = "", {}, None, None
    for chunk in stream:
        if not chunk.choices:
            continue
        choice = chunk.choices[0]
        delta = choice.delta
        if first is None:
            first = delta
        content += delta.content or ""
        for part in delta.tool_calls or []:
            call = calls.setdefault(part.index, {"id": None, "name": None, "arguments": ""})
            if part.id:
                assert call["id"] is None, "id sent once"
                call["id"] = part.id
                assert part.type == "function" and part.function.name and part.function.arguments == ""
                call["name"] = part.function.name
            else:
                assert part.function.name is None
            call["arguments"] += part.function.arguments or ""
        finish = choice.finish_reason or finish
    assert first.role == "assistant"
    return content, [calls[i] for i in sorted(calls)], finish


@pytest.mark.parametrize("stream", [False, True])
def test_full_tool_loop(client, stream):
    """Two tools, tool_choice required → tool_calls → the app appends the result → the final answer."""
    kwargs = dict(model="smol", tools=[WEATHER, CLOCK], max_tokens=120, temperature=0)
    if stream:
        content, calls, finish = collect_stream(client.chat.completions.create(messages=ASK, tool_choice="required", stream=True, **kwargs))
    else:
        reply = client.chat.completions.create(messages=ASK, tool_choice="required", **kwargs)
        message, finish = reply.choices[0].message, reply.choices[0].finish_reason
        assert message.content is None
        calls = [{"id": c.id, "name": c.function.name, "arguments": c.function.arguments} for c in message.tool_calls]
        assert all(c.type == "function" for c in message.tool_calls)
    assert finish == "tool_calls"
    assert calls and all(c["id"].startswith("call_") for c in calls)
    for call in calls:
        assert call["name"] in ("get_weather", "get_time")
        arguments = json.loads(call["arguments"])
        assert isinstance(arguments["city"], str) and len(arguments["city"]) <= 40
        assert set(arguments) <= ({"city", "unit"} if call["name"] == "get_weather" else {"city"})
    history = ASK + [{"role": "assistant", "content": None, "tool_calls": [
        {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}} for c in calls]}]
    history += [{"role": "tool", "tool_call_id": c["id"], "content": json.dumps({"temperature": 21, "sky": "clear"})} for c in calls]
    final = client.chat.completions.create(messages=history, tool_choice="none", **kwargs)
    assert final.choices[0].message.content.strip()
    assert not final.choices[0].message.tool_calls


def test_named_function(client):
    reply = client.chat.completions.create(model="smol", messages=ASK, tools=[WEATHER, CLOCK], temperature=0.8, seed=4,
                                           tool_choice={"type": "function", "function": {"name": "get_time"}}, max_tokens=80)
    calls = reply.choices[0].message.tool_calls
    assert [c.function.name for c in calls] == ["get_time"]
    assert set(json.loads(calls[0].function.arguments)) == {"city"}


def test_auto_may_answer_in_prose(client):
    reply = client.chat.completions.create(model="smol", messages=[{"role": "user", "content": "Say hello."}],
                                           tools=[WEATHER], max_tokens=16, temperature=0)
    assert reply.choices[0].finish_reason in ("stop", "length")
    assert reply.choices[0].message.content and not reply.choices[0].message.tool_calls


@pytest.mark.parametrize("body, message", [
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "not": {}}}}]},
     "tools[0].function.parameters: unsupported JSON Schema keyword 'not'"),
    ({"tools": [WEATHER, WEATHER]}, "the name 'get_weather' is used twice"),
    ({"tools": [{"type": "function", "function": {"name": "bad name!"}}]}, "tools[0].function.name must be"),
    ({"tools": [{"type": "function", "function": {"name": f"t{i}"}} for i in range(10_000)]}, "at most 128 are allowed"),
    ({"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "nope"}}}, "not among the tools"),
    ({"tool_choice": "required"}, "'tool_choice' required needs 'tools'"),
    ({"tools": [WEATHER], "response_format": {"type": "json_object"}}, "cannot be combined"),
    ({"messages": ASK + [{"role": "tool", "tool_call_id": "call_x", "content": "21"}]}, "points to no tool call"),
    ({"messages": ASK + [{"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{oops"}}]}]},
     "arguments is not valid JSON"),
])
def test_bad_tool_requests_are_400(server, body, message):
    status, _, reply = server.json("POST", "/v1/chat/completions", {"messages": ASK, "max_tokens": 4, **body})
    assert status == 400, reply
    assert message in reply["error"]["message"], reply["error"]["message"]


def test_tool_result_larger_than_the_context(server):
    history = ASK + [{"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "sunny " * 5000}]
    status, _, reply = server.json("POST", "/v1/chat/completions", {"messages": history, "tools": [WEATHER], "max_tokens": 4})
    assert status == 400, reply
    assert "context" in reply["error"]["message"]


@pytest.fixture(scope="module")
def llama31():
    runner = Runner("--chat-template", str(ROOT / "Tests/ChatTests/Fixtures/llama-3.1-8b-instruct.jinja"),
                    model=ROOT / "testdata/models/tiny-llama3-q8_0.gguf")
    yield runner
    runner.stop()


def test_llama31_prompt_is_the_model_card_format(llama31):
    history = ASK + [{"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "{\"temperature\": 21}"}]
    status, _, reply = llama31.json("POST", "/apply-template", {"messages": history, "tools": [WEATHER]})
    assert status == 200, reply
    prompt = reply["prompt"]
    tool_json = json.dumps(WEATHER, indent=4)
    import time
    today = time.strftime("%d %b %Y", time.gmtime())
    expected = (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
        f"Environment: ipython\nCutting Knowledge Date: December 2023\nToday Date: {today}\n\n<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\n"
        "Given the following functions, please respond with a JSON for a function call with its proper arguments that best "
        "answers the given prompt.\n\n"
        "Respond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}.Do not use variables.\n\n"
        f"{tool_json}\n\n"
        "What is the weather in Paris?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
        "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}<|eot_id|>"
        "<|start_header_id|>ipython<|end_header_id|>\n\n\"{\\\"temperature\\\": 21}\"<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n")
    assert prompt == expected


@pytest.mark.parametrize("stream", [False, True])
def test_llama31_json_calls(llama31, stream):
    """Random weights: only the grammar makes this a call; it must parse and follow the tool's schema."""
    client = OpenAI(base_url=llama31.base + "/v1", api_key="unused", max_retries=0)
    kwargs = dict(model="tiny", messages=ASK, tools=[WEATHER, CLOCK], max_tokens=200, temperature=0.7, seed=1,
                  tool_choice={"type": "function", "function": {"name": "get_weather"}})
    if stream:
        _, calls, finish = collect_stream(client.chat.completions.create(stream=True, **kwargs))
    else:
        reply = client.chat.completions.create(**kwargs)
        finish = reply.choices[0].finish_reason
        calls = [{"name": c.function.name, "arguments": c.function.arguments} for c in reply.choices[0].message.tool_calls]
    assert finish == "tool_calls"
    assert [c["name"] for c in calls] == ["get_weather"]
    arguments = json.loads(calls[0]["arguments"])
    assert "city" in arguments and set(arguments) <= {"city", "unit"}


def test_llama31_builtin_tools(llama31):
    """brave_search/wolfram_alpha/code_interpreter go to the template's builtin_tools (auto only: their calls start
    with the <|python_tag|> control token, which a grammar cannot force)."""
    search = {"type": "function", "function": {"name": "brave_search", "parameters": {"type": "object", "properties": {"query": {"type": "string"}}}}}
    status, _, reply = llama31.json("POST", "/apply-template", {"messages": ASK, "tools": [search, WEATHER]})
    assert status == 200, reply
    assert "Environment: ipython\nTools: brave_search\n\n" in reply["prompt"]
    assert '"name": "get_weather"' in reply["prompt"] and '"name": "brave_search"' not in reply["prompt"]
    status, _, reply = llama31.json("POST", "/v1/chat/completions", {"messages": ASK, "tools": [search], "max_tokens": 8})
    assert status == 200, reply
    status, _, reply = llama31.json("POST", "/v1/chat/completions", {"messages": ASK, "tools": [search], "tool_choice": "required"})
    assert status == 400 and "tool_choice auto only" in reply["error"]["message"]


def test_tool_with_nested_definitions(client):
    """The openai package's pydantic_function_tool puts nested models in $defs: they work inside the call grammar."""
    import openai
    import pydantic

    class Place(pydantic.BaseModel):
        city: str = pydantic.Field(max_length=30)

    class Trip(pydantic.BaseModel):
        start: Place
        end: Place

    tool = openai.pydantic_function_tool(Trip, name="plan_trip")
    assert "$defs" in tool["function"]["parameters"]
    reply = client.chat.completions.create(model="smol", messages=[{"role": "user", "content": "Plan a trip from Paris to Rome."}],
                                           tools=[tool], tool_choice="required", max_tokens=120, temperature=0)
    call = reply.choices[0].message.tool_calls[0]
    arguments = json.loads(call.function.arguments)
    assert set(arguments) == {"start", "end"} and isinstance(arguments["start"]["city"], str)


@pytest.mark.parametrize("stream", [False, True])
def test_llama31_full_tool_loop(llama31, stream):
    """The openai package's loop on the Llama 3.1 template: required call → the result as role tool → an answer
    (random weights: its text is noise, but the turn renders and completes)."""
    client = OpenAI(base_url=llama31.base + "/v1", api_key="unused", max_retries=0)
    kwargs = dict(model="tiny", tools=[WEATHER, CLOCK], max_tokens=120, temperature=0.7, seed=3)
    if stream:
        _, calls, finish = collect_stream(client.chat.completions.create(messages=ASK, tool_choice="required", stream=True, **kwargs))
    else:
        reply = client.chat.completions.create(messages=ASK, tool_choice="required", **kwargs)
        finish = reply.choices[0].finish_reason
        calls = [{"id": c.id, "name": c.function.name, "arguments": c.function.arguments} for c in reply.choices[0].message.tool_calls]
    assert finish == "tool_calls" and len(calls) == 1, "Llama 3.1's format has one call per answer"
    json.loads(calls[0]["arguments"])
    history = ASK + [{"role": "assistant", "content": None, "tool_calls": [
        {"id": calls[0]["id"], "type": "function", "function": {"name": calls[0]["name"], "arguments": calls[0]["arguments"]}}]},
        {"role": "tool", "tool_call_id": calls[0]["id"], "content": "{\"temperature\": 21}"}]
    final = client.chat.completions.create(messages=history, max_tokens=8, **{k: v for k, v in kwargs.items() if k != "max_tokens"})
    assert final.choices[0].finish_reason in ("stop", "length", "tool_calls")
