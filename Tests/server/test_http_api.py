"""Route shapes with raw HTTP: llama.cpp-native routes, SSE bytes via curl, props, metrics, prefix reuse."""
import json
import subprocess

CHAT = {"messages": [{"role": "user", "content": "What is the capital of France?"}], "max_tokens": 8, "temperature": 0}


def test_health(server):
    status, headers, body = server.json("GET", "/health")
    assert (status, body) == (200, {"status": "ok"})


def test_raw_sse_bytes_with_curl(server):
    body = dict(CHAT, stream=True)
    out = subprocess.run(["curl", "-sN", "--max-time", "60", "-H", "Content-Type: application/json", "-d", json.dumps(body),
                          server.base + "/v1/chat/completions", "-D", "-"], capture_output=True, timeout=90).stdout
    head, _, events = out.partition(b"\r\n\r\n")
    assert b"content-type: text/event-stream" in head.lower()
    assert b"transfer-encoding: chunked" in head.lower()
    assert events.endswith(b"data: [DONE]\n\n")
    frames = events.split(b"\n\n")[:-1]
    assert all(f.startswith(b"data: ") and b"\n" not in f for f in frames)
    chunks = [json.loads(f[6:]) for f in frames[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")
    assert set(chunks[-1]["timings"]) >= {"prompt_n", "prompt_ms", "predicted_n", "predicted_ms", "prompt_per_second", "predicted_per_second"}


def test_native_completion(server):
    status, _, reply = server.json("POST", "/completion", {"prompt": "The capital of France is", "n_predict": 4, "temperature": 0})
    assert status == 200
    assert reply["content"].startswith(" Paris")
    assert reply["stop"] is True and reply["stop_type"] == "limit"
    assert reply["tokens_predicted"] == 4
    assert reply["tokens_evaluated"] == 5
    assert reply["timings"]["predicted_n"] == 4


def test_native_completion_stream_and_stop_word(server):
    out = subprocess.run(["curl", "-sN", "--max-time", "60", "-d",
                          json.dumps({"prompt": "The capital of France is", "n_predict": 16, "temperature": 0, "stream": True, "stop": ["."]}),
                          server.base + "/completion"], capture_output=True, timeout=90).stdout
    assert b"[DONE]" not in out
    chunks = [json.loads(f[6:]) for f in out.split(b"\n\n") if f]
    assert all(not c["stop"] for c in chunks[:-1]) and chunks[-1]["stop"] is True
    text = "".join(c["content"] for c in chunks)
    assert "." not in text and text.startswith(" Paris")
    assert chunks[-1]["stop_type"] == "word" and chunks[-1]["stopping_word"] == "."


def test_completion_with_token_ids(server):
    status, _, ids = server.json("POST", "/tokenize", {"content": "The capital of France is"})
    assert status == 200
    status, _, reply = server.json("POST", "/completion", {"prompt": ids["tokens"], "n_predict": 2, "temperature": 0})
    assert status == 200 and reply["content"].startswith(" Paris")


def test_tokenize_detokenize_round_trip(server):
    text = "Hello, world! Ünïcødé 🙂"
    _, _, ids = server.json("POST", "/tokenize", {"content": text})
    assert all(isinstance(i, int) for i in ids["tokens"])
    _, _, back = server.json("POST", "/detokenize", {"tokens": ids["tokens"]})
    assert back == {"content": text}
    _, _, pieces = server.json("POST", "/tokenize", {"content": "Hi there", "with_pieces": True})
    assert "".join(p["piece"] for p in pieces["tokens"]) == "Hi there"


def test_apply_template(server):
    status, _, reply = server.json("POST", "/apply-template", {"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]})
    assert status == 200
    assert reply["prompt"] == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n"


def test_props(server):
    status, _, props = server.json("GET", "/props")
    assert status == 200
    assert props["total_slots"] == 4
    assert props["default_generation_settings"]["n_ctx"] == 2048
    assert "<|im_start|>" in props["chat_template"]
    assert props["model_path"].endswith("SmolLM2-135M-Instruct.Q4_1.gguf")


def test_metrics_text(server):
    status, headers, body = server.request("GET", "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    text = body.decode()
    assert "# TYPE llamacpp:prompt_tokens_total counter" in text
    assert "llamacpp:requests_processing " in text


def test_prefix_reuse(server):
    messages = [{"role": "system", "content": "You answer in one word. " * 20}, {"role": "user", "content": "Capital of Italy?"}]
    server.json("POST", "/v1/chat/completions", {"messages": messages, "max_tokens": 2, "temperature": 0})
    _, _, reply = server.json("POST", "/v1/chat/completions", {"messages": messages, "max_tokens": 2, "temperature": 0})
    timings = reply["timings"]
    assert timings["cache_n"] >= reply["usage"]["prompt_tokens"] - 1
    assert timings["prompt_n"] <= 1


def test_special_token_text_in_user_content_stays_plain(server):
    def prompt_tokens(content):
        _, _, reply = server.json("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": content}], "max_tokens": 1})
        return reply["usage"]["prompt_tokens"]
    # As a control token "<|im_end|>" would be 1 token; as plain text it is several.
    assert prompt_tokens("<|im_end|>") - prompt_tokens("") > 2


def test_concurrent_requests_all_complete(server):
    import concurrent.futures
    def one(i):
        return server.json("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": f"Count to {i}."}], "max_tokens": 12, "temperature": 0})
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(8)))
    assert all(status == 200 for status, _, _ in results)
    assert all(reply["usage"]["completion_tokens"] > 0 for _, _, reply in results)


def test_concurrent_greedy_matches_sequential(server):
    """Batched decoding of several slots gives the same greedy start as one at a time. (Only the first word:
    batch shape changes the last bits of the logits, as in llama.cpp, so a later near-tie may flip.)"""
    import concurrent.futures
    prompts = ["Name a color.", "Name a fruit.", "Name an animal.", "Name a city."]
    def one(p):
        return server.json("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": p}], "max_tokens": 10, "temperature": 0})[2]["choices"][0]["message"]["content"]
    sequential = [one(p) for p in prompts]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        together = list(pool.map(one, prompts))
    assert [t.split()[:1] for t in together] == [s.split()[:1] for s in sequential]


def test_completion_prompts_parse_special_tokens_as_llama_cpp(server):
    """A client that applies the chat template itself: the completion routes read control tokens in the prompt
    (llama.cpp's /tokenize with parse_special gives the same ids), so the model answers in the chat format."""
    prompt = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
    _, _, tokens = server.json("POST", "/tokenize", {"content": prompt, "parse_special": True, "add_special": True})
    for path, body in [("/completion", {"prompt": prompt, "n_predict": 8, "temperature": 0}),
                       ("/v1/completions", {"prompt": prompt, "max_tokens": 8, "temperature": 0})]:
        status, _, reply = server.json("POST", path, body)
        assert status == 200, reply
        evaluated = reply["tokens_evaluated"] if path == "/completion" else reply["usage"]["prompt_tokens"]
        assert evaluated == len(tokens["tokens"]), (path, evaluated, tokens)
        text = reply["content"] if path == "/completion" else reply["choices"][0]["text"]
        assert "Paris" in text, text
