"""The HTTP API against the tiny trained model, and the web page in a real headless Chromium."""

import asyncio
import os
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

from albert_bench.qa import QuestionAnswerer
from albert_bench.serve import create_app

PASSAGE = "The city of Grace is Vienna. The job of Oscar is pilot."
ARTIFACTS = Path(os.environ.get("ALBERT_BENCH_ARTIFACTS", Path(__file__).resolve().parents[1] / "test-artifacts"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def qa(trained):
    return QuestionAnswerer.from_pretrained(str(trained[0] / "best"))


@pytest.fixture(scope="module")
def server(qa):
    """A real uvicorn server on loopback, in a thread; yields its base URL and the app."""
    import uvicorn

    app = create_app(qa, max_context_chars=2000, max_batch=16)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    deadline = time.time() + 30
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    assert srv.started
    yield f"http://127.0.0.1:{port}", app
    srv.should_exit = True
    t.join(10)


def post(url, path, body=None, **kw):
    return httpx.post(url + path, json=body, timeout=30, **kw)


def test_answer_offsets_index_the_context(server):
    url, _ = server
    r = post(url, "/v1/answer", {"question": "What is the job of Oscar?", "context": PASSAGE, "top_k": 3})
    assert r.status_code == 200, r.text
    b = r.json()
    assert b["answer"] == "pilot" and PASSAGE[b["start"]:b["end"]] == "pilot" and not b["no_answer"]
    assert len(b["alternatives"]) == 3 and all(PASSAGE[a["start"]:a["end"]] == a["text"] for a in b["alternatives"])


def test_no_answer(server):
    url, _ = server
    b = post(url, "/v1/answer", {"question": "What is the pet of Grace?", "context": PASSAGE}).json()
    assert b["no_answer"] and b["answer"] == "" and b["start"] is None and b["null_odds"] > b["threshold"]


def test_batch_endpoint(server):
    url, _ = server
    items = [{"question": "What is the city of Grace?", "context": PASSAGE}, {"question": "What is the pet of Oscar?", "context": PASSAGE, "top_k": 1}]
    r = post(url, "/v1/answer:batch", {"items": items})
    assert r.status_code == 200, r.text
    res = r.json()["results"]
    assert [x["answer"] for x in res] == ["Vienna", ""] and len(res[1]["alternatives"]) == 1


@pytest.mark.parametrize("body, field", [
    ({"question": "  ", "context": PASSAGE}, "question"),
    ({"question": "Who?", "context": ""}, "context"),
    ({"question": 3, "context": PASSAGE}, "question"),
    ({"context": PASSAGE}, "question"),
    ({"question": "Who?", "context": PASSAGE, "top_k": 0}, "top_k"),
    ({"items": []}, "items"),
])
def test_invalid_requests_name_the_field(server, body, field):
    url, _ = server
    path = "/v1/answer:batch" if "items" in body else "/v1/answer"
    r = post(url, path, body)
    assert r.status_code == 422 and r.json()["error"].startswith(field), r.text


def test_invalid_json_and_limits(server):
    url, _ = server
    r = httpx.post(url + "/v1/answer", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and "error" in r.json()
    r = post(url, "/v1/answer", {"question": "Who?", "context": "x" * 2001})
    assert r.status_code == 413 and "2,001 characters" in r.json()["error"]
    r = post(url, "/v1/answer:batch", {"items": [{"question": "Who?", "context": "ok"}, {"question": "Who?", "context": "x" * 2001}]})
    assert r.status_code == 413 and r.json()["error"].startswith("items.1.context")
    assert httpx.get(url + "/healthz").json()["status"] == "ok"  # still serving


def test_healthz_and_docs(server, qa):
    url, _ = server
    h = httpx.get(url + "/healthz").json()
    assert h["model"] == qa.name and h["device"] == "cpu" and h["backend"] == "torch"
    assert "/v1/answer:batch" in httpx.get(url + "/openapi.json").json()["paths"]
    assert httpx.get(url + "/docs").status_code == 200


def test_concurrent_requests_share_forward_passes(server):
    url, app = server
    before = app.state.batcher.batches
    questions = ["What is the city of Grace?", "What is the job of Oscar?", "What is the pet of Grace?"] * 8

    async def go():
        async with httpx.AsyncClient(timeout=60) as c:
            return await asyncio.gather(*(c.post(url + "/v1/answer", json={"question": q, "context": PASSAGE}) for q in questions))

    rs = asyncio.run(go())
    assert all(r.status_code == 200 for r in rs)
    assert [r.json()["answer"] for r in rs] == ["Vienna", "pilot", ""] * 8  # each answer reaches its own request
    assert app.state.batcher.batches - before < len(questions)  # fewer forward passes than requests


def _browser():
    from playwright.sync_api import sync_playwright

    if not os.path.exists("/usr/bin/chromium"):
        pytest.fail("/usr/bin/chromium is missing: install Debian's chromium package (.ci/run does)")
    pw = sync_playwright().start()
    browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=[
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"])
    return pw, browser


def test_web_page_highlights_the_answer(server):
    url, _ = server
    api = post(url, "/v1/answer", {"question": "What is the job of Oscar?", "context": PASSAGE, "top_k": 5}).json()
    pw, browser = _browser()
    try:
        page = browser.new_page()
        page.goto(url + "/")
        page.fill("#context", PASSAGE)
        page.fill("#question", "What is the job of Oscar?")
        page.click("#submit")
        page.wait_for_selector("#passage mark")
        assert page.inner_text("#passage mark") == api["answer"] == "pilot"
        assert page.inner_text("#passage") == PASSAGE
        # clicking an alternative moves the highlight to it
        alts = page.query_selector_all("#alternatives li")
        assert len(alts) == len(api["alternatives"])
        alts[1].click()
        assert page.inner_text("#passage mark") == api["alternatives"][1]["text"]
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "web-answer.png"), full_page=True)
        # the explicit no-answer state
        page.fill("#question", "What is the pet of Grace?")
        page.click("#submit")
        page.wait_for_selector("#status.noanswer")
        assert "No answer in this passage" in page.inner_text("#status") and page.query_selector("#passage mark") is None
    finally:
        browser.close()
        pw.stop()


def test_web_page_shows_html_in_the_passage_as_text(server):
    url, _ = server
    evil = 'The city of Grace is Vienna. <script>window.pwned = 1</script><img src="x" onerror="window.pwned = 2"> <b>bold</b>'
    pw, browser = _browser()
    try:
        page = browser.new_page()
        dialogs = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(url + "/")
        page.fill("#context", evil)
        page.fill("#question", "What is the city of Grace?")
        page.click("#submit")
        page.wait_for_selector("#passage mark")
        assert page.inner_text("#passage") == evil  # shown literally
        assert page.query_selector("#passage script") is None and page.query_selector("#passage img") is None
        page.wait_for_timeout(300)
        assert page.evaluate("window.pwned") is None and not dialogs
        page.screenshot(path=str(ARTIFACTS / "web-literal-html.png"), full_page=True)
    finally:
        browser.close()
        pw.stop()
