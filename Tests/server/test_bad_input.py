"""Every HTTP item of docs/formats.md §4: clear 4xx errors, no crash, bounded time; the server stays healthy."""
import concurrent.futures
import json
import socket
import subprocess
import time

import pytest

from conftest import API_KEY, Runner

MSG = [{"role": "user", "content": "hi"}]


def assert_error(result, status, kind="invalid_request_error", mentions=None):
    got_status, _, body = result
    assert got_status == status, body
    assert body["error"]["type"] == kind
    assert body["error"]["code"] == status
    if mentions:
        assert mentions in body["error"]["message"]


@pytest.fixture(autouse=True)
def still_healthy(server):
    yield
    assert server.request("GET", "/health")[0] == 200
    assert server.process.poll() is None


def chat(server, **fields):
    return server.json("POST", "/v1/chat/completions", dict({"messages": MSG, "max_tokens": 1}, **fields))


def test_malformed_json(server):
    assert_error(server.json("POST", "/v1/chat/completions", raw=b'{"messages": [}'), 400, mentions="invalid JSON")
    assert_error(server.json("POST", "/v1/chat/completions", raw=b""), 400, mentions="empty")
    assert_error(server.json("POST", "/completion", raw=b"\xff\xfe{"), 400)


def test_non_object_json(server):
    assert_error(server.json("POST", "/v1/chat/completions", raw=b"[1, 2]"), 400, mentions="JSON object")
    assert_error(server.json("POST", "/v1/chat/completions", raw=b"42"), 400, mentions="JSON object")


def test_hundred_thousand_nested_brackets(server):
    start = time.time()
    assert_error(server.json("POST", "/v1/chat/completions", raw=b"[" * 100_000), 400, mentions="deeper")
    assert time.time() - start < 5


def test_wrong_field_types(server):
    assert_error(chat(server, messages="hi"), 400, mentions="messages")
    assert_error(chat(server, max_tokens="ten"), 400, mentions="max_tokens")
    assert_error(chat(server, stream="yes"), 400, mentions="stream")
    assert_error(chat(server, messages=[{"role": "user", "content": {"a": 1}}]), 400, mentions="content")
    assert_error(server.json("POST", "/completion", {"prompt": {"x": 1}}), 400, mentions="prompt")
    assert_error(server.json("POST", "/detokenize", {"tokens": "abc"}), 400, mentions="tokens")


def test_out_of_range_numbers(server):
    assert_error(chat(server, max_tokens=-5), 400, mentions="max_tokens")
    assert_error(chat(server, max_tokens=1e12), 400, mentions="max_tokens")
    assert_error(chat(server, top_p=2), 400, mentions="top_p")
    assert_error(chat(server, temperature="hot"), 400, mentions="temperature")
    assert_error(chat(server, n=5), 400)


def test_huge_stop_lists(server):
    assert_error(chat(server, stop=[str(i) for i in range(10_000)]), 400, mentions="stop")
    assert_error(chat(server, stop=["x" * 100_000]), 400, mentions="stop")


def test_unknown_role(server):
    assert_error(chat(server, messages=[{"role": "hacker", "content": "x"}]), 400, mentions="hacker")


def test_thousands_of_messages(server):
    assert_error(chat(server, messages=[{"role": "user", "content": "x"}] * 5000), 400, mentions="at most")


def test_body_too_large(server):
    status, _, body = server.json("POST", "/v1/chat/completions", raw=b" " * (9 << 20))
    assert status == 413 and body["error"]["type"] == "invalid_request_error"


def test_prompt_longer_than_context(server):
    assert_error(chat(server, messages=[{"role": "user", "content": "hello " * 3000}]), 400, kind="exceed_context_size_error")


def test_bad_token_ids(server):
    assert_error(server.json("POST", "/completion", {"prompt": [1, -1, 2], "n_predict": 1}), 400, mentions="-1")
    assert_error(server.json("POST", "/completion", {"prompt": [49152], "n_predict": 1}), 400, mentions="49152")
    assert_error(server.json("POST", "/detokenize", {"tokens": [10 ** 9]}), 400)


def test_empty_prompt(server):
    assert_error(server.json("POST", "/v1/completions", {"prompt": "", "max_tokens": 1}), 400, mentions="empty")


def test_odd_but_valid_prompts(server):
    for content in ["a\u0000b", "x" * 20_000, "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace")]:
        status, _, _ = chat(server, messages=[{"role": "user", "content": content}])
        assert status in (200, 400)
    status, _, _ = server.json("POST", "/v1/chat/completions", raw=b'{"messages":[{"role":"user","content":"\xff\xfe bad utf8"}],"max_tokens":1}')
    assert status == 200


def raw_get(server, path, host="127.0.0.1"):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1]), data


@pytest.mark.parametrize("path", ["/../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc%2fpasswd", "/index.html/../../etc/passwd",
                                  "/./././etc/passwd", "//etc/passwd", "/%2E%2E%5C..%5Cwindows"])
def test_path_traversal(server, path):
    status, data = raw_get(server, path)
    assert status in (400, 404)
    assert b"root:" not in data


def test_missing_and_wrong_key(keyed_server):
    assert_error(keyed_server.json("GET", "/v1/models"), 401, kind="authentication_error")
    assert_error(keyed_server.json("GET", "/v1/models", headers={"Authorization": "Bearer nope"}), 401, kind="authentication_error")
    assert_error(keyed_server.json("POST", "/v1/chat/completions", {"messages": MSG}), 401, kind="authentication_error")
    assert keyed_server.json("GET", "/v1/models", headers={"Authorization": f"Bearer {API_KEY}"})[0] == 200
    assert keyed_server.json("GET", "/v1/models", headers={"X-Api-Key": API_KEY})[0] == 200
    assert keyed_server.json("GET", "/health")[0] == 200
    assert keyed_server.request("GET", "/")[0] == 200


def test_foreign_host_is_refused(server):
    status, data = raw_get(server, "/v1/models", host="evil.example:8080")
    assert status == 403 and b"permission_error" in data
    assert raw_get(server, "/v1/models", host="localhost:1234")[0] == 200


def test_foreign_origin_is_refused_without_cors_headers(server):
    status, headers, body = server.json("GET", "/v1/models", headers={"Origin": "http://evil.example"})
    assert status == 403 and "Access-Control-Allow-Origin" not in headers
    status, headers, _ = server.json("GET", "/v1/models", headers={"Origin": server.base})
    assert status == 200 and "Access-Control-Allow-Origin" not in headers
    status, headers, _ = server.request("OPTIONS", "/v1/chat/completions", headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
    assert status == 403 and "Access-Control-Allow-Origin" not in headers


def test_listed_cors_origin():
    runner = Runner("--cors-origin", "https://app.example")
    try:
        status, headers, _ = runner.json("GET", "/v1/models", headers={"Origin": "https://app.example"})
        assert status == 200 and headers["Access-Control-Allow-Origin"] == "https://app.example"
        status, headers, _ = runner.request("OPTIONS", "/v1/chat/completions", headers={"Origin": "https://app.example"})
        assert status == 204 and headers["Access-Control-Allow-Origin"] == "https://app.example"
    finally:
        runner.stop()


def stream_and_disconnect(server, max_tokens=400):
    body = json.dumps({"messages": [{"role": "user", "content": "Write a very long story about a dragon."}],
                       "max_tokens": max_tokens, "temperature": 1.0, "seed": 3, "stream": True}).encode()
    s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
              + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    received = b""
    while received.count(b"data: ") < 4:
        received += s.recv(4096)
    s.close()


def test_disconnect_mid_stream_frees_the_slot(server):
    before = server.metrics()
    stream_and_disconnect(server)
    deadline = time.time() + 5
    while time.time() < deadline and server.metrics()["requests_processing"] > 0:
        time.sleep(0.05)
    after = server.metrics()
    assert after["requests_processing"] == 0
    # The server saw the socket close and stopped: at most the forward pass then in flight yields a token.
    assert after["tokens_after_disconnect_total"] - before["tokens_after_disconnect_total"] <= 1
    assert after["tokens_predicted_total"] - before["tokens_predicted_total"] < 400
    time.sleep(0.5)
    assert server.metrics()["tokens_predicted_total"] == after["tokens_predicted_total"]


def test_slow_clients_do_not_block_others(server):
    # One client dribbles its headers, another sends half a request and stalls; others are served meanwhile.
    slow = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    stalled = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    stalled.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n{\"mess")
    request = b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    for i, byte in enumerate(request):
        slow.send(bytes([byte]))
        if i % 16 == 0:
            assert chat(server)[0] == 200
        time.sleep(0.005)
    assert slow.recv(4096).startswith(b"HTTP/1.1 200")
    slow.close()
    stalled.close()


def test_slow_reader_of_a_stream_does_not_block_others(server):
    body = json.dumps({"messages": MSG, "max_tokens": 64, "stream": True}).encode()
    lazy = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    lazy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    lazy.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n" + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    assert chat(server, max_tokens=4)[0] == 200
    lazy.close()


def test_hundreds_of_concurrent_connections(server):
    def health(_):
        return server.request("GET", "/health", timeout=60)[0]
    with concurrent.futures.ThreadPoolExecutor(300) as pool:
        statuses = list(pool.map(health, range(300)))
    assert statuses.count(200) == 300


def test_queue_overflow_gets_503_with_retry_after(server):
    # Start from an idle server: a stream an earlier test left ending would hold a slot and lower the count.
    deadline = time.time() + 30
    while time.time() < deadline:
        metrics = server.metrics()
        if metrics["requests_processing"] == 0 and metrics["requests_deferred"] == 0:
            break
        time.sleep(0.05)

    def one(_):
        return server.request("POST", "/v1/chat/completions", {"messages": MSG, "max_tokens": 8}, timeout=120)
    with concurrent.futures.ThreadPoolExecutor(120) as pool:
        results = list(pool.map(one, range(120)))
    statuses = [r[0] for r in results]
    assert set(statuses) <= {200, 503}, statuses
    assert statuses.count(200) >= 36  # 4 slots + 32 waiting
    assert 503 in statuses
    refused = next(r for r in results if r[0] == 503)
    assert refused[1]["Retry-After"] == "1"
    assert json.loads(refused[2])["error"]["type"] == "unavailable_error"


def test_busy_port_is_one_clear_error(server):
    from conftest import BIN, MODEL
    result = subprocess.run([str(BIN), "-m", str(MODEL), "--port", str(server.port)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "already in use" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
