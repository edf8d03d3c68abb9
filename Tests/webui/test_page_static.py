"""The page as the runner serves it, read as bytes: one self-contained document, nothing fetched from elsewhere,
no HTML-parsing sinks in its script, the safety headers of the asset route."""
import re
import urllib.request


def fetch(runner, path):
    with urllib.request.urlopen(runner.base + path) as response:
        return response.status, response.headers, response.read().decode()


def test_one_self_contained_document(runner):
    status, headers, page = fetch(runner, "/")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert fetch(runner, "/index.html")[2] == page
    assert page.startswith("<!doctype html>")
    # Style and script inline, exactly one of each; nothing loaded from another host (the SVG namespace is a name).
    assert page.count("<script") == 1 and page.count("</script>") == 1
    assert page.count("<style") == 1 and page.count("</style>") == 1
    assert re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page) == []
    assert "@import" not in page and "url(" not in page
    script = page[page.index("<script>"):page.index("</script>")]
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in script, sink


def test_favicon_is_served(runner):
    for path in ("/favicon.svg", "/favicon.ico"):
        status, headers, body = fetch(runner, path)
        assert status == 200 and headers["Content-Type"] == "image/svg+xml" and body.startswith("<svg")
