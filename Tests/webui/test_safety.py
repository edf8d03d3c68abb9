"""Model text is rendered inert, and the page sends what the settings say.

A small fake model server streams chosen answers (hostile HTML, markdown, errors) to the real page, fetched from
the real runner and served here WITHOUT the runner's Content-Security-Policy header: what keeps the page safe
is the renderer itself (text nodes only), not the header.
"""
import json
import re
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from selenium.webdriver.common.by import By

from conftest import wait_for
from webui_page import answers, last_answer_text, last_stats, send, set_settings, severe_console_entries, wait_until_idle

HOSTILE = (
    'Sure! <script>window.__owned = "script"</script> and <img src=x onerror="window.__owned = \'img\'"> '
    "and [click me](javascript:window.__owned='link') and [safe](https://example.com/a?b=1) **bold** `<b>code</b>`\n\n"
    "```html\n<iframe src=\"javascript:window.__owned='iframe'\"></iframe>\n```\n\n"
    "- item <svg onload=\"window.__owned='svg'\"><a href=javascript:alert(1)>x</a>\n"
    '- [data](data:text/html,<script>alert(1)</script>) <style>body{display:none}</style>\n'
)

MARKDOWN = (
    "# Title\n\nSome *emphasis*, __strong__ and ~~gone~~ with `inline code`.\n\n"
    "1. first\n2. second\n   - nested a\n   - nested b\n3. third\n\n"
    "> quoted **text**\n\n---\n\n"
    "```python\nprint(\"hi\")\nif x < 3 and y > 2:\n    pass\n```\n"
    "See https://example.org/path.\n"
)


class FakeModel:
    """Serves the runner's page and answers chat requests with `answer`, in pieces of 7 characters."""

    def __init__(self, page, favicon):
        self.page, self.favicon = page, favicon
        self.answer = HOSTILE
        self.requests = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def reply(self, status, content_type, body):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path in ("/", "/index.html"):
                    self.reply(200, "text/html; charset=utf-8", fake.page)
                elif self.path in ("/favicon.svg", "/favicon.ico"):
                    self.reply(200, "image/svg+xml", fake.favicon)
                elif self.path == "/props":
                    body = {"model_name": "fake-model.gguf", "default_generation_settings": {"n_ctx": 1234}}
                    self.reply(200, "application/json", json.dumps(body).encode())
                else:
                    self.reply(404, "text/plain", b"not found")

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append((self.path, dict(self.headers), body))
                if fake.answer is None:
                    error = {"error": {"code": 400, "message": "the prompt has 5000 tokens; the context holds 4096", "type": "invalid_request_error"}}
                    self.reply(400, "application/json", json.dumps(error).encode())
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()

                def event(payload):
                    data = payload if isinstance(payload, str) else json.dumps(payload)
                    self.wfile.write(f"data: {data}\n\n".encode())
                    self.wfile.flush()

                chunk = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}
                event(chunk)
                for start in range(0, len(fake.answer), 7):
                    time.sleep(0.01)
                    event({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": fake.answer[start:start + 7]}, "finish_reason": None}]})
                timings = {"cache_n": 0, "prompt_n": 56, "prompt_ms": 71.0, "prompt_per_second": 789.0,
                           "predicted_n": 12, "predicted_ms": 347.8, "predicted_per_second": 34.5}
                event({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "timings": timings})
                event({"object": "chat.completion.chunk", "choices": [], "usage": {"completion_tokens": 12, "prompt_tokens": 56, "total_tokens": 68}})
                event("[DONE]")
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def fake(runner):
    page = urllib.request.urlopen(runner.base + "/").read()
    favicon = urllib.request.urlopen(runner.base + "/favicon.svg").read()
    server = FakeModel(page, favicon)
    yield server
    server.close()


def open_fake(browser, fake):
    browser.get(fake.base + "/")
    browser.execute_script("localStorage.clear()")
    browser.get(fake.base + "/")
    wait_for(browser, lambda: browser.find_element(By.ID, "model-name").text == "fake-model.gguf", 10)
    assert browser.find_element(By.ID, "context-size").text == "context 1,234 tokens"


def ask(browser, text):
    count = len(answers(browser))
    send(browser, text)
    wait_for(browser, lambda: len(answers(browser)) > count, 10, "an answer appears")
    wait_until_idle(browser, 30)


def assert_inert(browser):
    time.sleep(0.3)  # an image error or a script would have run by now
    assert browser.execute_script("return window.__owned") is None
    assert browser.find_elements(By.CSS_SELECTOR, "#messages script, #messages img, #messages iframe, #messages svg, #messages style") == []
    assert browser.find_elements(By.CSS_SELECTOR, "#messages [onerror], #messages [onload], #sidebar [onerror]") == []
    hrefs = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "#messages a")]
    assert all(href.startswith(("http://", "https://")) for href in hrefs), hrefs


def test_hostile_model_text_is_shown_not_run(fake, browser):
    open_fake(browser, fake)
    fake.answer = HOSTILE
    set_settings(browser, system_prompt="Be careful.", temperature=0.25, top_p=0.5, max_tokens=33, api_key="sk-fake-key")
    ask(browser, "<img src=y onerror=\"window.__owned='user'\"> hi")
    assert_inert(browser)
    body = answers(browser)[-1].find_element(By.CSS_SELECTOR, ".message-body")
    text = body.text
    assert '<script>window.__owned = "script"</script>' in text
    assert "<img src=x onerror=\"window.__owned = 'img'\">" in text
    assert "<style>body{display:none}</style>" in text
    links = body.find_elements(By.CSS_SELECTOR, "a")
    assert [(a.text, a.get_attribute("href"), a.get_attribute("rel")) for a in links] == [
        ("safe", "https://example.com/a?b=1", "noopener noreferrer nofollow")]
    assert "click me" in text and "data" in text
    assert body.find_element(By.CSS_SELECTOR, "strong").text == "bold"
    assert body.find_element(By.CSS_SELECTOR, "p code").text == "<b>code</b>"
    code_block = body.find_element(By.CSS_SELECTOR, ".code-block")
    assert code_block.find_element(By.CSS_SELECTOR, ".code-language").text == "html"
    assert code_block.find_element(By.CSS_SELECTOR, "pre code").text == "<iframe src=\"javascript:window.__owned='iframe'\"></iframe>"
    assert browser.find_element(By.CSS_SELECTOR, ".message.user .message-body").text == "<img src=y onerror=\"window.__owned='user'\"> hi"
    assert browser.find_element(By.CSS_SELECTOR, ".conversation-title").text.startswith("<img src=y")
    assert re.fullmatch(r"12 tokens · 34\.5 tokens/s · prompt 56 tokens at 789 tokens/s · \d+\.\d s", last_stats(browser)), last_stats(browser)

    # What went over the wire: the settings, the system prompt, the key as a Bearer token, streaming with usage.
    path, headers, request = fake.requests[-1]
    assert path == "/v1/chat/completions"
    assert headers["Authorization"] == "Bearer sk-fake-key"
    assert request["stream"] is True and request["stream_options"] == {"include_usage": True}
    assert (request["temperature"], request["top_p"], request["max_tokens"]) == (0.25, 0.5, 33)
    assert request["messages"] == [{"role": "system", "content": "Be careful."},
                                   {"role": "user", "content": "<img src=y onerror=\"window.__owned='user'\"> hi"}]

    # Stored and drawn again from localStorage: still inert.
    browser.refresh()
    wait_for(browser, lambda: answers(browser), 10)
    assert_inert(browser)
    assert '<script>window.__owned = "script"</script>' in answers(browser)[-1].text
    assert severe_console_entries(browser) == []


def test_markdown_subset(fake, browser):
    open_fake(browser, fake)
    fake.answer = MARKDOWN
    ask(browser, "Show me markdown.")
    body = answers(browser)[-1].find_element(By.CSS_SELECTOR, ".markdown")
    structure = browser.execute_script("""
        const walk = (node) => [...node.children].map((child) => [child.tagName.toLowerCase(), walk(child)]);
        return walk(arguments[0]);""", body)
    tags = [tag for tag, _ in structure]
    assert tags == ["h1", "p", "ol", "blockquote", "hr", "div", "p"], structure
    assert body.find_element(By.CSS_SELECTOR, "h1").text == "Title"
    assert [e.tag_name for e in body.find_elements(By.CSS_SELECTOR, ":scope > p:first-of-type > *")] == ["em", "strong", "del", "code"]
    assert [li.text.split("\n")[0] for li in body.find_elements(By.CSS_SELECTOR, "ol > li")] == ["first", "second", "third"]
    assert [li.text for li in body.find_elements(By.CSS_SELECTOR, "ol > li > ul > li")] == ["nested a", "nested b"]
    assert body.find_element(By.CSS_SELECTOR, "blockquote strong").text == "text"
    assert body.find_element(By.CSS_SELECTOR, ".code-block pre code").text == 'print("hi")\nif x < 3 and y > 2:\n    pass'
    link = body.find_element(By.CSS_SELECTOR, ":scope > p:last-of-type a")
    assert link.get_attribute("href") == "https://example.org/path" and link.text == "https://example.org/path"

    # The copy button puts the code on the clipboard.
    browser.execute_cdp_cmd("Browser.grantPermissions", {"origin": fake.base, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})
    copy = body.find_element(By.CSS_SELECTOR, ".code-block .copy-button")
    copy.click()
    wait_for(browser, lambda: copy.text == "Copied", 5, "copy button confirms")
    copied = browser.execute_async_script("navigator.clipboard.readText().then(arguments[0], (e) => arguments[0]('error: ' + e))")
    assert copied == 'print("hi")\nif x < 3 and y > 2:\n    pass'


def test_server_error_is_shown_on_the_answer(fake, browser):
    open_fake(browser, fake)
    fake.answer = None
    ask(browser, "A very long question.")
    error = answers(browser)[-1].find_element(By.CSS_SELECTOR, ".message-error")
    assert error.text == "HTTP 400: the prompt has 5000 tokens; the context holds 4096"
    assert browser.find_element(By.ID, "send-button").is_displayed()
    fake.answer = "Fine now."
    browser.find_element(By.CSS_SELECTOR, 'button[data-action="regenerate"]').click()
    wait_for(browser, lambda: last_answer_text(browser) == "Fine now.", 10)
    wait_until_idle(browser, 10)
    assert browser.find_elements(By.CSS_SELECTOR, ".message-error") == []
