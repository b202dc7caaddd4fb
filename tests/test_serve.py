"""The HTTP API against the tiny trained model on a real uvicorn server on loopback, hostile clients included,
and the web page and /docs in a real headless Chromium with no network."""

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import httpx
import numpy as np
import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from hypothesis import HealthCheck, given, settings

from albert_bench.decode import TOP_K
from albert_bench.qa import QuestionAnswerer
from albert_bench.serve import MicroBatcher, ServeLimits, create_app, utf16_index, uvicorn_config

PASSAGE = "The city of Grace is Vienna. The job of Oscar is pilot."
ARTIFACTS = Path(os.environ.get("ALBERT_BENCH_ARTIFACTS", Path(__file__).resolve().parents[1] / "test-artifacts"))
# Small limits, so that each can be tested at its exact boundary.
LIMITS = ServeLimits(max_body_bytes=40_000, max_question_chars=100, max_context_chars=2000, max_batch_items=4, max_batch_chars=3000, max_queue=64, max_batch=16)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(app):
    """A real uvicorn server on loopback, in a thread; yields its base URL."""
    import uvicorn

    port = _free_port()
    srv = uvicorn.Server(uvicorn_config(app, app.state.limits, host="127.0.0.1", port=port, log_level="critical"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    deadline = time.time() + 30
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    assert srv.started
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        t.join(10)


@pytest.fixture(scope="module")
def qa(trained):
    return QuestionAnswerer.from_pretrained(str(trained[0] / "best"))


@pytest.fixture(scope="module")
def server(qa):
    app = create_app(qa, LIMITS)
    with serving(app) as url:
        yield url, app


def post(url, path, body=None, **kw):
    return httpx.post(url + path, json=body, timeout=60, **kw)


def solo(qa, question, context, top_k=TOP_K):
    """What the model answers for this question alone (no batch-mates), as the API reports it."""
    from albert_bench.serve import with_utf16

    return with_utf16(qa.answer(question, context, top_k), context)


def same(a, b):
    """The same answer: equal texts, offsets and flags; scores equal to float noise (a batch's other rows can
    change how a CPU kernel rounds)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 1e-4 * max(1.0, abs(a))
    return a == b


# ---------------------------------------------------------------- answers


def test_answer_offsets_index_the_context(server):
    url, _ = server
    r = post(url, "/v1/answer", {"question": "What is the job of Oscar?", "context": PASSAGE, "top_k": 3})
    assert r.status_code == 200, r.text
    b = r.json()
    assert b["answer"] == "pilot" and PASSAGE[b["start"]:b["end"]] == "pilot" and not b["no_answer"]
    assert (b["start_utf16"], b["end_utf16"]) == (b["start"], b["end"])  # no astral characters here
    assert len(b["alternatives"]) == 3 and all(PASSAGE[a["start"]:a["end"]] == a["text"] for a in b["alternatives"])


def test_no_answer(server):
    url, _ = server
    b = post(url, "/v1/answer", {"question": "What is the pet of Grace?", "context": PASSAGE}).json()
    assert b["no_answer"] and b["answer"] == "" and b["start"] is None and b["start_utf16"] is None and b["null_odds"] > b["threshold"]


def test_batch_endpoint(server):
    url, _ = server
    items = [{"question": "What is the city of Grace?", "context": PASSAGE}, {"question": "What is the pet of Oscar?", "context": PASSAGE, "top_k": 1}]
    r = post(url, "/v1/answer:batch", {"items": items})
    assert r.status_code == 200, r.text
    res = r.json()["results"]
    assert [x["answer"] for x in res] == ["Vienna", ""] and len(res[1]["alternatives"]) == 1


def test_one_top_k_default_for_api_cli_and_python(server, qa, trained, capsys):
    from albert_bench.cli import main

    url, _ = server
    assert len(post(url, "/v1/answer", {"question": "What is the city of Grace?", "context": PASSAGE}).json()["alternatives"]) == TOP_K
    assert len(post(url, "/v1/answer", {"question": "What is the city of Grace?", "context": PASSAGE, "top_k": 2.0}).json()["alternatives"]) == 2  # a JSON Schema integer
    assert len(qa.answer("What is the city of Grace?", PASSAGE)["alternatives"]) == TOP_K
    assert main(["ask", "--model", str(trained[0] / "best"), "--question", "What is the city of Grace?", "--context", PASSAGE, "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["alternatives"]) == TOP_K
    assert TOP_K > 1  # the page shows candidates to click


def test_utf16_offsets_count_astral_characters_twice():
    text = "a😀b𝐀c"
    u = utf16_index(text)
    js_length = len(text.encode("utf-16-le")) // 2
    assert [u(i) for i in range(len(text) + 1)] == [0, 1, 3, 4, 6, 7] and u(len(text)) == js_length and u(None) is None


# ---------------------------------------------------------------- one error shape


@pytest.mark.parametrize("body, status, field", [
    ({"question": "  ", "context": PASSAGE}, 422, "question"),
    ({"question": "Who?", "context": ""}, 422, "context"),
    ({"question": "Who?", "context": "\u3000\t\n "}, 422, "context"),
    ({"question": 3, "context": PASSAGE}, 422, "question"),
    ({"question": None, "context": PASSAGE}, 422, "question"),
    ({"context": PASSAGE}, 422, "question"),
    ({"question": "Who?", "context": PASSAGE, "top_k": 0}, 422, "top_k"),
    ({"question": "Who?", "context": PASSAGE, "top_k": 21}, 422, "top_k"),
    ({"question": "Who?", "context": PASSAGE, "top_k": True}, 422, "top_k"),  # not read as 1
    ({"question": "Who?", "context": PASSAGE, "top_k": 2.5}, 422, "top_k"),
    ({"question": "Who?", "context": PASSAGE, "top_k": "3"}, 422, "top_k"),
    ({"question": "Who?", "context": PASSAGE, "topk": 3}, 422, "topk"),  # a typo is not silently dropped
    ({"items": []}, 422, "items"),
    ({"items": {"question": "Who?"}}, 422, "items"),
    ({"items": [{"question": "Who?", "context": PASSAGE}, {"question": "Who?"}]}, 422, "items.1.context"),
])
def test_invalid_requests_name_the_field(server, body, status, field):
    url, _ = server
    path = "/v1/answer:batch" if "items" in body else "/v1/answer"
    r = post(url, path, body)
    assert r.status_code == status and list(r.json()) == ["error"] and r.json()["error"].startswith(field + ":"), r.text


@pytest.mark.parametrize("body, error", [
    ({"question": "", "context": PASSAGE}, "question: must not be empty"),
    ({"question": "Who?", "context": PASSAGE, "top_k": 0}, "top_k: Input should be greater than or equal to 1"),
    ({"question": "Who?"}, "body: send `context` (one passage) or `contexts` (a list of passages), one of the two"),
    ({"context": PASSAGE}, "question: required"),
])
def test_invalid_requests_say_what_is_wrong_in_words(server, body, error):
    url, _ = server
    assert post(url, "/v1/answer", body).json() == {"error": error}


def test_lone_surrogates_are_refused_at_the_edge_naming_field_and_position(server):
    url, _ = server
    for field, other in (("context", "question"), ("question", "context")):
        body = json.dumps({field: "ab\\ud800 cd", other: "What is it?"}).replace("\\\\ud800", "\\ud800")
        assert "\\ud800" in body  # valid JSON: an escaped lone surrogate
        r = httpx.post(url + "/v1/answer", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 422 and r.json() == {"error": f"{field}: contains a lone surrogate at character 2; send valid Unicode text"}, r.text


DEEP = b'{"question": "Who?", "context": "x", "top_k": ' + b"[" * 5000 + b"]" * 5000 + b"}"


@pytest.mark.parametrize("content, ctype, status, error_start", [
    (b"{not json", "application/json", 422, "body: not valid JSON (line 1, column 2"),
    (b'{"question": "Who?", "context": "caf\xe9"}', "application/json", 422, "body: not UTF-8 text"),
    ('{"question": "Who?", "context": "x"}'.encode("utf-16"), "application/json", 422, "body: not UTF-8 text (invalid byte at position 0; it looks like UTF-16 LE"),
    (b"", "application/json", 422, "body:"),
    (b"[1, 2]", "application/json", 422, "body:"),
    (DEEP, "application/json", 422, "body: JSON nested too deeply"),
    (b'{"question": "Who?", "context": "x", "top_k": ' + b"7" * 5000 + b"}", "application/json", 422, "body: a number of 5,000 characters"),
    (b'{"question": "Who?", "context": "x", "top_k": NaN}', "application/json", 422, "body: NaN is not a JSON number"),
    (b'{"question": "What?", "context": "x", "question": "dup"}', "application/json", 422, "body: the key 'question' appears twice in one object; keep one"),
    (b'{"question": "Who?", "context": "x", "top_k": 1e999}', "application/json", 422, "body: the number 1e999 is too large"),
    (b'{"question": "Who?", "context": "x"}', "text/plain", 415, "content-type: 'text/plain'"),
    (b'{"question": "Who?", "context": "x"}', None, 415, "content-type: '(none)'"),
    (b'question=Who', "application/x-www-form-urlencoded", 415, "content-type:"),
    (b"{}", "application/" + "x" * 200, 415, "content-type: 'application/" + "x" * 68 + "'; send"),  # the header shown, cut at 80
])
def test_malformed_bodies_get_one_error_shape(server, content, ctype, status, error_start):
    url, _ = server
    headers = {"Content-Type": ctype} if ctype else {}
    r = httpx.post(url + "/v1/answer", content=content, headers=headers, timeout=30)
    assert r.status_code == status and list(r.json()) == ["error"] and r.json()["error"].startswith(error_start), r.text
    assert r.headers["content-type"] == "application/json" and r.headers["x-content-type-options"] == "nosniff"


def test_unknown_paths_and_methods_get_the_error_shape(server):
    url, _ = server
    r = httpx.get(url + "/v1/nope")
    assert r.status_code == 404 and r.json()["error"].startswith("path: '/v1/nope'")
    r = httpx.get(url + "/v1/answer")
    assert r.status_code == 405 and r.json()["error"] == "method: GET is not allowed on /v1/answer"


# ---------------------------------------------------------------- limits before work, at their exact boundary


def _padded(body: dict, size: int) -> bytes:
    raw = json.dumps(body).encode()
    assert len(raw) <= size
    return raw[:-1] + b" " * (size - len(raw)) + b"}"


def test_body_limit_boundary_and_cut_off_while_reading(server):
    url, _ = server
    ok = {"question": "What is the city of Grace?", "context": PASSAGE}
    h = {"Content-Type": "application/json"}
    r = httpx.post(url + "/v1/answer", content=_padded(ok, LIMITS.max_body_bytes), headers=h)
    assert r.status_code == 200 and r.json()["answer"] == "Vienna", r.text
    r = httpx.post(url + "/v1/answer", content=_padded(ok, LIMITS.max_body_bytes + 1), headers=h)
    assert r.status_code == 413 and r.json() == {"error": f"body: larger than {LIMITS.max_body_bytes:,} bytes (--max-body-bytes)"}

    # No Content-Length (chunked), a client that keeps sending: the server answers 413 once the limit is passed,
    # without waiting for the other 10 MB.
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST /v1/answer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        sent, chunk = 0, b"x" * 10_000
        sock.setblocking(False)
        reply = b""
        while sent < 10_000_000 and not reply:
            with contextlib.suppress(BlockingIOError):
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            with contextlib.suppress(BlockingIOError):
                reply = sock.recv(65536)
            time.sleep(0.001)
    assert reply.startswith(b"HTTP/1.1 413") and b'"body: larger than 40,000 bytes' in reply
    assert sent < 200_000  # the server stopped reading right after the limit


@pytest.mark.parametrize("field, limit, flag", [("question", LIMITS.max_question_chars, "--max-question-chars"),
                                                ("context", LIMITS.max_context_chars, "--max-context-chars")])
def test_text_limits_at_the_boundary(server, field, limit, flag):
    url, _ = server
    body = {"question": "What is the city of Grace?", "context": PASSAGE}
    body[field] = body[field].ljust(limit)  # exactly the limit
    assert post(url, "/v1/answer", body).status_code == 200
    body[field] += "x"
    r = post(url, "/v1/answer", body)
    assert r.status_code == 413 and r.json() == {"error": f"{field}: {limit + 1:,} characters; the limit is {limit:,} ({flag})"}
    r = post(url, "/v1/answer:batch", {"items": [{"question": "Who?", "context": "ok"}, body]})
    assert r.status_code == 413 and r.json()["error"].startswith(f"items.1.{field}: {limit + 1:,} characters")


def test_batch_limits_at_the_boundary(server):
    url, _ = server
    item = {"question": "What is the city of Grace?", "context": PASSAGE}
    n = LIMITS.max_batch_items
    assert post(url, "/v1/answer:batch", {"items": [item] * n}).status_code == 200
    r = post(url, "/v1/answer:batch", {"items": [item] * (n + 1)})
    assert r.status_code == 413 and r.json() == {"error": f"items: {n + 1} items; the limit is {n} (--max-batch-items)"}
    # total characters: 3 items, the last context sized so the batch holds exactly the limit
    q = "What is the city of Grace?"
    rest = LIMITS.max_batch_chars - 2 * (len(q) + 1000) - len(q)
    items = [{"question": q, "context": ("Vienna. " * 200)[:1000]}] * 2 + [{"question": q, "context": ("Vienna. " * 200)[:rest]}]
    assert sum(len(i["question"]) + len(i["context"]) for i in items) == LIMITS.max_batch_chars
    assert post(url, "/v1/answer:batch", {"items": items}).status_code == 200
    items[2] = {"question": q, "context": items[2]["context"] + "x"}
    r = post(url, "/v1/answer:batch", {"items": items})
    assert r.status_code == 413 and r.json() == {"error": f"items: {LIMITS.max_batch_chars + 1:,} characters in all; the limit is {LIMITS.max_batch_chars:,} (--max-batch-chars)"}


class Gated:
    """The real model behind a gate that the test opens: holds the worker so that the queue fills up. `turns`
    records the questions of each turn of the model, in order."""

    def __init__(self, qa):
        self.qa, self.gate, self.entered, self.turns = qa, threading.Event(), threading.Event(), []
        for name in ("name", "device", "backend", "precision", "precision_reason", "bf16_check", "batch_size", "count_windows"):
            setattr(self, name, getattr(qa, name))

    def answer_batch(self, pairs, top_k):
        self.turns.append([q for q, _ in pairs])
        self.entered.set()
        self.gate.wait(60)
        return self.qa.answer_batch(pairs, top_k)


async def held_first(c, url: str, gated: Gated, question: str = "first?"):
    """A first request sent and taken by the worker, which the gate holds: the queue behind it fills up."""
    first = asyncio.create_task(c.post(url + "/v1/answer", json={"question": question, "context": PASSAGE}))
    await asyncio.get_running_loop().run_in_executor(None, gated.entered.wait, 30)
    return first


def test_full_queue_answers_503_at_the_boundary(qa):
    gated = Gated(qa)
    limits = ServeLimits(max_queue=6, max_batch_items=4, max_batch=1)
    with serving(create_app(gated, limits)) as url:
        body = {"question": "What is the city of Grace?", "context": PASSAGE}

        async def go():
            async with httpx.AsyncClient(timeout=60) as c:
                first = await held_first(c, url, gated, body["question"])
                queued = [asyncio.create_task(c.post(url + "/v1/answer", json=body)) for _ in range(limits.max_queue)]
                while (await c.get(url + "/healthz")).json()["queued"] < limits.max_queue:
                    await asyncio.sleep(0.02)
                over = await c.post(url + "/v1/answer", json=body)
                over_batch = await c.post(url + "/v1/answer:batch", json={"items": [body]})
                gated.gate.set()
                return await first, await asyncio.gather(*queued), over, over_batch

        first, queued, over, over_batch = asyncio.run(go())
        for r in (over, over_batch):
            assert r.status_code == 503 and r.headers["retry-after"] == "1" and r.json()["error"].startswith("queue: 6 questions are waiting (--max-queue 6)")
        assert first.status_code == 200 and [r.status_code for r in queued] == [200] * limits.max_queue
        assert post(url, "/v1/answer:batch", {"items": [body] * 4}).status_code == 200  # the queue drained


# ---------------------------------------------------------------- fairness: cost in windows, turns, clients that leave


def long_passage(qa, windows: int) -> str:
    """PASSAGE repeated until the question below needs exactly `windows` windows (counted by the model's tokenizer)."""
    for k in range(1, 400):
        text = " ".join([PASSAGE] * k)
        if qa.count_windows([("What is the city of Grace?", text)]) == [windows]:
            return text
    raise AssertionError(f"no passage of {windows} windows")


def test_count_windows_is_what_the_model_runs(qa):
    """The server's unit of cost is the number of windows build_features cuts, for every length around the steps."""
    from albert_bench.data import Example
    from albert_bench.features import build_features

    pairs = [("What is the city of Grace?", " ".join([PASSAGE] * k)) for k in range(1, 40)] + [("x " * 200, PASSAGE * 3)]
    feats = build_features([Example(str(i), q, c, []) for i, (q, c) in enumerate(pairs)], qa.tokenizer, qa.qa.features)
    built = np.bincount(feats.example_index, minlength=len(pairs)).tolist()
    assert qa.count_windows(pairs) == built and max(built) >= 6


def test_a_request_over_its_window_budget_is_413_at_the_boundary(qa):
    limits = replace(LIMITS, max_request_windows=5)
    five, six = long_passage(qa, 5), long_passage(qa, 6)
    with serving(create_app(qa, limits)) as url:
        q = "What is the city of Grace?"
        assert post(url, "/v1/answer", {"question": q, "context": five}).status_code == 200
        r = post(url, "/v1/answer", {"question": q, "context": six})
        assert r.status_code == 413 and r.json() == {"error": "context: needs 6 windows of the model's input; the limit is 5 (--max-request-windows); send a shorter passage"}
        # a batch counts all its items: 3 + 2 fits, 3 + 3 does not
        three, two = long_passage(qa, 3), long_passage(qa, 2)
        assert post(url, "/v1/answer:batch", {"items": [{"question": q, "context": three}, {"question": q, "context": two}]}).status_code == 200
        r = post(url, "/v1/answer:batch", {"items": [{"question": q, "context": three}, {"question": q, "context": three}]})
        assert r.status_code == 413 and r.json()["error"].startswith("items: needs 6 windows")


def test_queue_is_bounded_in_windows(qa):
    gated = Gated(qa)
    limits = replace(LIMITS, max_request_windows=6, max_queue_windows=10, max_batch=1)
    six, four = long_passage(qa, 6), long_passage(qa, 4)
    with serving(create_app(gated, limits)) as url:
        async def go():
            async with httpx.AsyncClient(timeout=60) as c:
                first = await held_first(c, url, gated, "What is the city of Grace?")
                held = [asyncio.create_task(c.post(url + "/v1/answer", json={"question": "What is the city of Grace?", "context": t})) for t in (six, four)]
                while (await c.get(url + "/healthz")).json()["queued_windows"] < 10:
                    await asyncio.sleep(0.02)
                over = await c.post(url + "/v1/answer", json={"question": "What is the city of Grace?", "context": PASSAGE})
                gated.gate.set()
                return over, await first, await asyncio.gather(*held)

        over, first, held = asyncio.run(go())
    assert over.status_code == 503 and "10 windows (--max-queue-windows 10)" in over.json()["error"]
    assert first.status_code == 200 and [r.status_code for r in held] == [200, 200]


def test_a_small_request_waits_one_turn_behind_a_large_one(qa):
    """Turns go round the waiting requests: a one-question request queued after a 12-question batch is answered in
    the next turn, not after the batch's 12 questions."""
    gated = Gated(qa)
    limits = replace(LIMITS, max_batch_items=12, max_queue=64, max_batch=4)
    big = [{"question": f"What is the city of Grace? ({i})", "context": PASSAGE} for i in range(12)]
    with serving(create_app(gated, limits)) as url:
        async def go():
            async with httpx.AsyncClient(timeout=60) as c:
                first = await held_first(c, url, gated)
                batch = asyncio.create_task(c.post(url + "/v1/answer:batch", json={"items": big}))
                while (await c.get(url + "/healthz")).json()["queued"] < 12:
                    await asyncio.sleep(0.02)
                small = asyncio.create_task(c.post(url + "/v1/answer", json={"question": "small?", "context": PASSAGE}))
                while (await c.get(url + "/healthz")).json()["queued"] < 13:
                    await asyncio.sleep(0.02)
                gated.gate.set()
                return await first, await batch, await small

        first, batch, small = asyncio.run(go())
    assert first.status_code == batch.status_code == small.status_code == 200
    assert gated.turns[0] == ["first?"] and "small?" in gated.turns[1], gated.turns
    assert sum(len(t) for t in gated.turns) == 14  # every question once


def test_a_turn_stops_at_its_window_budget(qa):
    gated = Gated(qa)
    limits = replace(LIMITS, turn_windows=4, max_batch=16)
    three = long_passage(qa, 3)
    with serving(create_app(gated, limits)) as url:
        async def go():
            async with httpx.AsyncClient(timeout=60) as c:
                first = await held_first(c, url, gated)
                rest = [asyncio.create_task(c.post(url + "/v1/answer", json={"question": "What is the city of Grace?", "context": three})) for _ in range(3)]
                while (await c.get(url + "/healthz")).json()["queued"] < 3:
                    await asyncio.sleep(0.02)
                gated.gate.set()
                return await first, await asyncio.gather(*rest)

        first, rest = asyncio.run(go())
    assert [r.status_code for r in rest] == [200] * 3
    assert [len(t) for t in gated.turns] == [1, 1, 1, 1]  # 3 + 3 windows would pass the turn's 4


def test_questions_of_a_client_that_left_never_reach_the_model(qa):
    gated = Gated(qa)
    limits = replace(LIMITS, max_batch=2)
    gone = [{"question": f"gone {i}?", "context": PASSAGE} for i in range(4)]
    with serving(create_app(gated, limits)) as url:
        async def go():
            async with httpx.AsyncClient(timeout=60) as c:
                first = await held_first(c, url, gated)
                async with httpx.AsyncClient(timeout=60) as leaving:
                    left = asyncio.create_task(leaving.post(url + "/v1/answer:batch", json={"items": gone}))
                    while (await c.get(url + "/healthz")).json()["queued"] < 4:
                        await asyncio.sleep(0.02)
                    left.cancel()  # the client gives up: its connection closes
                    with contextlib.suppress(asyncio.CancelledError):
                        await left
                for _ in range(500):  # until the server noticed (a bounded wait: a server that never does fails below)
                    if not (h := (await c.get(url + "/healthz")).json())["queued"]:
                        break
                    await asyncio.sleep(0.02)
                after = asyncio.create_task(c.post(url + "/v1/answer", json={"question": "after?", "context": PASSAGE}))
                gated.gate.set()
                return h, await first, await after

        h, first, after = asyncio.run(go())
    alone = qa.answer_batch([("after?", PASSAGE)], 1)[0]  # what the model says to that question on its own
    assert first.status_code == after.status_code == 200 and after.json()["answer"] == alone["answer"]
    assert h["dropped"] == 4 and h["queued_windows"] == 0
    assert gated.turns == [["first?"], ["after?"]]  # the 4 questions whose client left never ran


def test_json_is_parsed_off_the_event_loop(qa):
    """Three clients send bodies that take long to parse; the server's event loop never stalls (its own watch,
    in /healthz) for as long as a third of one such parse, measured here on the same body."""
    from albert_bench.files import parse_json
    from albert_bench.serve import MAX_KEYS

    junk = b"[" + b",".join([b"1"] * 1_000_000) + b"]"
    t = time.perf_counter()
    parse_json(junk, max_keys=MAX_KEYS)
    one_parse = time.perf_counter() - t
    with serving(create_app(qa, replace(LIMITS, max_body_bytes=len(junk)))) as url:
        async def go():
            async with httpx.AsyncClient(timeout=60) as c:
                return await asyncio.gather(*[c.post(url + "/v1/answer", content=junk, headers={"Content-Type": "application/json"}) for _ in range(3)])

        before = httpx.get(url + "/healthz").json()["loop_stall_max_ms"]
        replies = asyncio.run(go())
        stall = httpx.get(url + "/healthz").json()["loop_stall_max_ms"]
    assert [r.status_code for r in replies] == [422] * 3 and replies[0].json()["error"].startswith("body: ")
    assert stall < one_parse * 1000 / 3, (before, stall, one_parse)


def _exchange(port: int, *parts: bytes, pause: float = 0.0) -> tuple[bytes, bool]:
    """Send `parts` on one raw connection (pausing between them), then read until the server closes it: (what
    came back, whether the server closed the connection). A server that never closes fails at the 30 s socket timeout."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        for part in parts:
            sock.sendall(part)
            time.sleep(pause)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
        return reply, True


def _json_reply(reply: bytes) -> tuple[int, dict]:
    head, _, body = reply.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in head.lower(), head
    return int(head.split()[1]), json.loads(body)


def test_slow_headers_and_bodies_get_408_and_the_connection_closes(qa):
    limits = replace(LIMITS, header_timeout_s=0.5, body_timeout_s=0.5)
    with serving(create_app(qa, limits)) as url:
        port = int(url.rsplit(":", 1)[1])
        # half the headers, then nothing
        status, body = _json_reply(_exchange(port, b"POST /v1/answer HTTP/1.1\r\nHost: 127.0.0.1\r\n")[0])
        assert status == 408 and body == {"error": "headers: not received within 0.5 s (--header-timeout-s); send the request at once"}
        # the headers, half the body
        status, body = _json_reply(_exchange(port, b"POST /v1/answer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                                                   b"Content-Length: 100\r\n\r\n{\"question\": ")[0])
        assert status == 408 and body == {"error": "body: not received within 0.5 s (--body-timeout-s); send it at once"}
        # a kept-alive connection that starts a second request and stops halfway
        ok = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        reply, _ = _exchange(port, ok, b"GET /healthz HTTP/1.1\r\nHo", pause=0.1)
        assert reply.startswith(b"HTTP/1.1 200") and reply.count(b"HTTP/1.1 ") == 2 and b"HTTP/1.1 408 Request Timeout" in reply
        # a connection that sends nothing is closed without a reply
        assert _exchange(port) == (b"", True)
        # and the server still answers
        assert post(url, "/v1/answer", {"question": "What is the city of Grace?", "context": PASSAGE}).json()["answer"] == "Vienna"


@pytest.mark.parametrize("request_bytes", [
    b"POST /v1/answer HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: gzip\r\n\r\nhello",  # framing the server cannot read
    b"POST /v1/answer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5, 6\r\n\r\nhello",
    b"HELLO THERE\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 70_000,  # headers that go on and on
], ids=["te-gzip", "two-lengths", "no-http", "huge-header"])
def test_requests_that_are_not_http_get_the_json_error_shape(server, request_bytes):
    url, _ = server
    status, body = _json_reply(_exchange(int(url.rsplit(":", 1)[1]), request_bytes)[0])
    assert status == 400 and body["error"].startswith("request: not valid HTTP/1.1")


# ---------------------------------------------------------------- isolation: one bad request fails alone


def test_poisoned_request_fails_alone_among_many(server, qa):
    """A lone surrogate sent together with 24 valid requests, several rounds: it gets 422, each valid request
    exactly its solo answer."""
    url, app = server
    questions = ["What is the city of Grace?", "What is the job of Oscar?", "What is the pet of Grace?", "What is the city of Oscar?"] * 6
    expected = [solo(qa, q, PASSAGE) for q in questions]
    poison = json.dumps({"question": "What is it?", "context": "ab\\ud800 cd"}).replace("\\\\", "\\")

    async def go():
        async with httpx.AsyncClient(timeout=60) as c:
            valid = [c.post(url + "/v1/answer", json={"question": q, "context": PASSAGE}) for q in questions]
            bad = c.post(url + "/v1/answer", content=poison, headers={"Content-Type": "application/json"})
            return await asyncio.gather(bad, *valid)

    before = app.state.batcher.batches
    for _ in range(3):
        bad, *valid = asyncio.run(go())
        assert bad.status_code == 422 and "lone surrogate at character 2" in bad.json()["error"]
        assert [r.status_code for r in valid] == [200] * len(questions)
        assert all(same(r.json(), e) for r, e in zip(valid, expected))
    assert app.state.batcher.batches - before < 3 * len(questions)  # they did share forward passes


def test_batch_that_fails_is_retried_request_by_request(qa):
    """Behind the edge: a real tokenizer failure (a lone surrogate reaches the tokenizer) inside a shared batch.
    Only the culprit fails; the 20 others get their solo answers."""
    questions = ["What is the city of Grace?", "What is the job of Oscar?", "What is the pet of Grace?", "What is the city of Oscar?"] * 5
    expected = [{**qa.answer(q, PASSAGE, 2)} for q in questions]

    async def go():
        b = MicroBatcher(qa, ServeLimits(max_batch=32))
        await b.start()
        try:
            items = [(q, PASSAGE, 2) for q in questions]
            items.insert(7, ("What is it?", "ab\ud800 cd", 2))
            results = await b.submit(items)
            return b, results
        finally:
            await b.stop()

    b, results = asyncio.run(go())
    assert isinstance(results[7], TypeError)  # the tokenizer's own error, for the culprit alone
    assert same(results[:7] + results[8:], expected)
    # found by halving: a few failed passes, far fewer forward passes than one per request
    assert 1 <= b.retried <= 5 and b.batches <= 6


def test_without_micro_batching_each_question_is_a_forward_pass_of_its_own(qa):
    questions = ["What is the city of Grace?", "What is the job of Oscar?", "What is the pet of Grace?"]

    async def go(enabled):
        b = MicroBatcher(qa, ServeLimits(max_batch=32), enabled=enabled)
        await b.start()
        try:
            results = await b.submit([(q, PASSAGE, 2) for q in questions])  # all waiting at once
            return b.batches, results
        finally:
            await b.stop()

    alone, results = asyncio.run(go(False))
    assert alone == len(questions) and same(results, [qa.answer(q, PASSAGE, 2) for q in questions])
    assert asyncio.run(go(True))[0] == 1  # the same questions, micro-batched: one turn


def test_json_media_types_are_json(server):
    url, _ = server
    for ctype in ("application/json; charset=utf-8", "application/vnd.example+json", "Application/JSON"):
        r = httpx.post(url + "/v1/answer", content=json.dumps({"question": "What is the city of Grace?", "context": PASSAGE}),
                       headers={"Content-Type": ctype}, timeout=60)
        assert r.status_code == 200 and r.json()["answer"] == "Vienna", ctype
    for ctype in ("application/jsonx", "text/json+xml", "application/json-patch"):
        assert httpx.post(url + "/v1/answer", content=b"{}", headers={"Content-Type": ctype}).status_code == 415, ctype


def test_a_request_message_without_a_body_key_is_an_empty_body(qa):
    """ASGI lets a server leave `body` out of an http.request message (it then means b""): the edge reads it so."""
    app = create_app(qa, LIMITS, allowed_hosts=["testserver"])
    sent = []

    async def go():
        async def receive():
            return {"type": "http.request", "more_body": False}

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http", "path": "/v1/answer",
                 "raw_path": b"/v1/answer", "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1), "server": ("testserver", 80),
                 "headers": [(b"host", b"testserver"), (b"content-type", b"application/json")]}
        await app(scope, receive, send)

    asyncio.run(go())
    assert sent[0]["status"] == 422 and json.loads(sent[1]["body"]) == {"error": "body: empty; send a JSON object"}


def test_a_turn_is_four_forward_passes_unless_told(qa):
    """--turn-windows' documented default: 4 × the model's batch size (16 windows for a base model on CPU)."""
    assert MicroBatcher(qa, LIMITS).turn_windows == 4 * qa.batch_size
    assert MicroBatcher(qa, replace(LIMITS, turn_windows=3)).turn_windows == 3


def test_a_question_counts_one_window_unless_told(qa):
    """submit's default cost: one window per question, so two questions fit a turn of two windows."""
    async def go(windows):
        b = MicroBatcher(qa, replace(LIMITS, turn_windows=2))
        await b.start()
        try:
            await b.submit([("What is the city of Grace?", PASSAGE, 1), ("What is the job of Oscar?", PASSAGE, 1)], windows)
            return b.batches
        finally:
            await b.stop()

    assert asyncio.run(go(None)) == 1
    assert asyncio.run(go([2, 2])) == 2  # the same questions told to cost two windows each: a turn apiece


class Short:
    """A model whose batch returns one answer too few: the batcher must fail those requests, never hand one
    request another's answer, and keep serving."""

    def __init__(self, qa):
        self.qa, self.batch_size, self.calls = qa, qa.batch_size, 0

    def answer_batch(self, pairs, top_k):
        self.calls += 1
        out = self.qa.answer_batch(pairs, top_k)
        return out[:-1] if self.calls == 1 else out


def test_a_turn_that_fails_outside_the_model_fails_its_requests_and_the_worker_goes_on(qa):
    async def go():
        b = MicroBatcher(Short(qa), ServeLimits(max_batch=32))
        await b.start()
        try:
            first = await asyncio.wait_for(b.submit([("What is the city of Grace?", PASSAGE, 1), ("What is the job of Oscar?", PASSAGE, 1)]), 30)
            second = await asyncio.wait_for(b.submit([("What is the city of Grace?", PASSAGE, 1)]), 30)
            return first, second
        finally:
            await b.stop()

    first, second = asyncio.run(go())
    assert all(isinstance(r, RuntimeError) and "returned 1 results for 2 questions" in str(r) for r in first), first
    assert second[0]["answer"] == "Vienna"


class Faulty:
    """The real model, plus a fault no edge check catches: any question containing 'boom' fails inside the batch."""

    def __init__(self, qa):
        self.qa = qa
        for name in ("name", "device", "backend", "precision", "precision_reason", "bf16_check", "batch_size", "count_windows"):
            setattr(self, name, getattr(qa, name))

    def answer_batch(self, pairs, top_k):
        if any("boom" in q for q, _ in pairs):
            raise RuntimeError("/secret/path/model.py exploded")
        return self.qa.answer_batch(pairs, top_k)


def test_internal_failure_is_500_with_request_id_and_others_unharmed(qa, caplog):
    app = create_app(Faulty(qa), replace(LIMITS, max_batch=32))
    questions = ["What is the city of Grace?", "What is the job of Oscar?", "What is the pet of Grace?"] * 7
    expected = [solo(qa, q, PASSAGE) for q in questions]
    with serving(app) as url:
        async def go():
            async with httpx.AsyncClient(timeout=60) as c:
                valid = [c.post(url + "/v1/answer", json={"question": q, "context": PASSAGE}) for q in questions]
                bad = c.post(url + "/v1/answer", json={"question": "boom?", "context": PASSAGE})
                bad_batch = c.post(url + "/v1/answer:batch", json={"items": [{"question": "ok?", "context": PASSAGE}, {"question": "boom?", "context": PASSAGE}]})
                return await asyncio.gather(bad, bad_batch, *valid)

        for _ in range(3):
            bad, bad_batch, *valid = asyncio.run(go())
            assert all(same(r.json(), e) for r, e in zip(valid, expected))
            rid = bad.headers["x-request-id"]
            assert bad.status_code == 500 and bad.json() == {"error": f"request: answering failed (RuntimeError); request id {rid}", "request_id": rid}
            assert bad_batch.status_code == 500 and bad_batch.json()["error"].startswith("items.1: answering failed (RuntimeError)")
            assert "secret" not in bad.text and "Traceback" not in bad.text
        assert app.state.batcher.retried >= 3
    assert any(rid in r.getMessage() and r.exc_info for r in caplog.records)  # the details went to the server log


# ---------------------------------------------------------------- safe defaults


def test_healthz_names_the_model_without_its_path(server, qa, trained):
    url, _ = server
    h = httpx.get(url + "/healthz").json()
    assert h["model"] == "run/best" and str(trained[0]) not in json.dumps(h)
    assert h["backend"] == "torch" and h["device"] == "cpu" and h["limits"]["max_queue"] == LIMITS.max_queue
    # what --precision auto (the default) picked here, and why: the trained model's bf16 check, on this CPU
    assert h["precision"] == qa.precision and h["precision_reason"] == qa.precision_reason and h["precision_reason"].startswith("auto: ")
    assert h["bf16_check"] == json.loads((trained[0] / "best" / "qa_config.json").read_text())["bf16_check"]
    assert h["precision"] == ("bf16" if h["bf16_check"] and h["bf16_check"]["passed"] else "fp32")


def test_host_allow_list(server):
    url, _ = server
    r = httpx.get(url + "/healthz", headers={"Host": "evil.example:80"})
    assert r.status_code == 400 and r.json()["error"].startswith("host: 'evil.example' is not served here")
    r = httpx.get(url + "/healthz", headers={"Host": "not a host"})  # no host name in it: the header as sent
    assert r.status_code == 400 and r.json()["error"].startswith("host: 'not a host' is not served here")
    for host in ("localhost", "127.0.0.1:9", "[::1]:8000"):
        assert httpx.get(url + "/healthz", headers={"Host": host}).status_code == 200, host


def test_security_headers(server):
    url, _ = server
    page = httpx.get(url + "/")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-content-type-options"] == "nosniff" and page.headers["x-frame-options"] == "DENY"
    assert "<script>" not in page.text and '<script src="/static/page.js">' in page.text  # no inline script for the CSP to allow
    for path in ("/healthz", "/static/page.js", "/openapi.json"):
        r = httpx.get(url + path)
        assert r.headers["x-content-type-options"] == "nosniff" and len(r.headers["x-request-id"]) == 16


def test_serve_on_a_public_address_warns_in_one_line(trained):
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "albert_bench", "serve", "--model", str(trained[0] / "best"), "--host", "0.0.0.0", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        assert line.startswith("albert-bench: warning: listening on 0.0.0.0, reachable from other machines") and "--allowed-hosts" in line
        for _ in range(200):
            with contextlib.suppress(httpx.HTTPError):
                r = httpx.get(f"http://127.0.0.1:{port}/healthz", headers={"Host": "qa.example.com"})
                break
            time.sleep(0.1)
        assert r.status_code == 200  # no allow-list given: any host, as the warning says
    finally:
        proc.terminate()
        proc.wait(30)


# ---------------------------------------------------------------- the schema, and the live server driven from it


def test_openapi_describes_every_request_field(server):
    url, _ = server
    schemas = httpx.get(url + "/openapi.json").json()["components"]["schemas"]
    for model in ("AnswerRequest", "BatchItem", "BatchRequest"):
        for name, field in schemas[model]["properties"].items():
            described = field.get("description") or any(alt.get("description") for alt in field.get("anyOf", []))
            assert described, f"{model}.{name} has no description"


def test_openapi_declares_what_the_server_enforces(server):
    url, _ = server
    spec = httpx.get(url + "/openapi.json").json()
    op = spec["paths"]["/v1/answer"]["post"]
    assert {"400", "413", "415", "422", "500", "503"} <= set(op["responses"])
    assert op["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
    req = spec["components"]["schemas"]["AnswerRequest"]
    assert req["additionalProperties"] is False
    q, c, k = req["properties"]["question"], req["properties"]["context"], req["properties"]["top_k"]
    assert (q["minLength"], q["maxLength"], c["maxLength"]) == (1, LIMITS.max_question_chars, LIMITS.max_context_chars)
    assert (k["minimum"], k["maximum"], k["default"]) == (1, 20, TOP_K)
    items = spec["components"]["schemas"]["BatchRequest"]["properties"]["items"]
    assert items["maxItems"] == LIMITS.max_batch_items
    assert "HTTPValidationError" not in spec["components"]["schemas"]  # FastAPI's own 422 shape is not promised


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_live_server_conforms_to_its_own_openapi_schema(qa, mode):
    """Schemathesis drives the live server from its own /openapi.json: schema-valid requests (positive) must be
    answered 200, schema-invalid ones (negative) refused with a documented 4xx, and every response must match
    its declared schema. Limits chosen so that the schema states each exactly (a batch of the most items at the
    longest texts fits --max-batch-chars)."""
    limits = ServeLimits(max_question_chars=100, max_context_chars=600, max_batch_items=3, max_batch_chars=3 * 700)
    with serving(create_app(qa, limits)) as url:
        # Schema-invalid data must get one of the documented refusals: 413 too (an `items` list over maxItems is
        # "too large", as the README says), and never a 5xx, which schemathesis would otherwise let pass.
        config = SchemathesisConfig.from_dict({"checks": {"negative_data_rejection": {"expected-statuses": [400, 413, 415, 422]}}})
        schema = schemathesis.openapi.from_url(url + "/openapi.json", config=config)

        @given(case=schema.as_strategy(schemathesis.GenerationMode(mode)))
        @settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def check(case):
            case.call_and_validate()

        check()


# ---------------------------------------------------------------- the page and /docs in Chromium, offline


@contextlib.contextmanager
def offline_page(url):
    """A Chromium page that can reach only this server: every other request is aborted and recorded, as are
    console errors and failed responses."""
    from playwright.sync_api import sync_playwright

    if not os.path.exists("/usr/bin/chromium"):
        pytest.fail("/usr/bin/chromium is missing: install Debian's chromium package (.ci/run does)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        try:
            page = browser.new_page()
            page.problems = []
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(url)
                       else (page.problems.append(f"external request {route.request.url}"), route.abort()))
            page.on("console", lambda m: m.type in ("error", "warning") and page.problems.append(f"console {m.type}: {m.text}"))
            page.on("pageerror", lambda e: page.problems.append(f"page error: {e}"))
            page.on("response", lambda r: r.status >= 400 and page.problems.append(f"{r.status} {r.url}"))
            yield page
        finally:
            browser.close()


def ask_on_page(page, context, question):
    page.fill("#context", context)
    page.fill("#question", question)
    with page.expect_response(lambda r: r.url.endswith("/v1/answer")):
        page.click("#submit")
    # plain selectors: the page's CSP forbids the string evaluation that wait_for_function uses
    page.wait_for_selector("#submit:not([disabled])", state="attached")
    page.wait_for_selector("#result:not([hidden])", state="attached")


def test_web_page_highlights_the_answer(server):
    url, _ = server
    api = post(url, "/v1/answer", {"question": "What is the job of Oscar?", "context": PASSAGE}).json()
    with offline_page(url) as page:
        page.goto(url + "/")
        ask_on_page(page, PASSAGE, "What is the job of Oscar?")
        assert page.inner_text("#passage mark") == api["answer"] == "pilot"
        assert page.inner_text("#passage") == PASSAGE
        alts = page.query_selector_all("#alternatives li")
        assert len(alts) == len(api["alternatives"]) == TOP_K  # the page asks for the server's default
        alts[1].click()
        assert page.inner_text("#passage mark") == api["alternatives"][1]["text"]
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "web-answer.png"), full_page=True)
        ask_on_page(page, PASSAGE, "What is the pet of Grace?")
        assert "No answer in this passage" in page.inner_text("#status") and page.query_selector("#passage mark") is None
        assert page.problems == []  # no 404 (favicon), no CSP violation, nothing fetched from outside


# Text before (and inside) the answer that JavaScript's UTF-16 strings count differently from Python's code points.
TRICKY = {
    "emoji": "Weather 😀🎉 today. ",
    "math letters": "The 𝐀𝐁𝐂 set, 𝔸 and 𝕫. ",
    "zwj sequence": "Family 👩‍👩‍👧‍👦 and flag 🏳️‍🌈 here. ",
    "combining marks": "Cafe\u0301 and n\u0303 and a\u0308\u0304 too. ",
    "crlf": "First line.\r\nSecond line.\r\n",
    "right-to-left": "שלום עולם and مرحبا بالعالم said. ",
}


@pytest.mark.parametrize("prefix", TRICKY.values(), ids=TRICKY.keys())
def test_web_page_highlights_exactly_the_api_answer_after_tricky_text(server, prefix):
    url, _ = server
    # The page's textarea turns CRLF into LF (HTML forms do); the API is asked about what the page sends.
    # an emoji first: every span after it has UTF-16 offsets one larger than its code-point offsets
    context = "🙂 " + prefix + PASSAGE.replace("Vienna", "Vie😀nna") + " " + prefix
    sent = context.replace("\r\n", "\n")
    question = "What is the city of Grace?"
    api = post(url, "/v1/answer", {"question": question, "context": sent, "top_k": TOP_K}).json()
    with offline_page(url) as page:
        page.goto(url + "/")
        ask_on_page(page, context, question)
        assert page.inner_text("#passage") .replace("\r\n", "\n") == sent
        if api["no_answer"]:
            assert page.query_selector("#passage mark") is None
        else:
            assert page.eval_on_selector("#passage mark", "m => m.textContent") == api["answer"] == sent[api["start"]:api["end"]]
        alts = page.query_selector_all("#alternatives li")
        assert len(alts) == len(api["alternatives"])
        for li, alt in zip(alts, api["alternatives"]):  # the alternatives path, each highlighted exactly
            li.click()
            assert page.eval_on_selector("#passage mark", "m => m.textContent") == alt["text"]
        assert page.problems == []
    assert all(a["end_utf16"] > a["end"] for a in api["alternatives"])  # the test means something: UTF-16 differs


MARKUP = '<script>window.pwned = 1</script><img src="x" onerror="window.pwned = 2"> <b>bold</b> '


@pytest.mark.parametrize("path", ["answer", "alternatives", "no-answer", "error"])
def test_web_page_inserts_text_never_html(server, path):
    url, _ = server
    context = MARKUP + "The city of Grace is Vienna. " + MARKUP
    question = {"no-answer": "What is the pet of Grace?", "error": "x" * (LIMITS.max_question_chars + 1)}.get(path, "What is the city of Grace?")
    with offline_page(url) as page:
        dialogs = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(url + "/")
        ask_on_page(page, context, question)
        if path == "error":
            assert page.inner_text("#status").startswith("Error: question: 101 characters")
        else:
            assert page.inner_text("#passage") == context  # shown literally
        if path == "alternatives":
            for li in page.query_selector_all("#alternatives li"):
                li.click()
        assert page.query_selector("#result script, #result img, #result b") is None
        page.wait_for_timeout(200)
        assert page.evaluate("window.pwned") is None and not dialogs
        assert [p for p in page.problems if "413" not in p] == []  # the error path's own 413 is expected
        if path == "answer":
            page.screenshot(path=str(ARTIFACTS / "web-literal-html.png"), full_page=True)


def test_docs_work_offline(server):
    url, _ = server
    with offline_page(url) as page:
        page.goto(url + "/docs")
        page.wait_for_selector(".opblock-summary-path", timeout=20_000)
        paths = page.eval_on_selector_all(".opblock-summary-path", "els => els.map(e => e.textContent)")
        assert {"/v1/answer", "/v1/answer:batch", "/healthz"} <= {p.replace("\u200b", "") for p in paths}
        page.screenshot(path=str(ARTIFACTS / "docs-offline.png"), full_page=False)
        assert page.problems == []


def test_blank_means_the_same_to_the_server_the_schema_and_python():
    import re
    import sys

    from albert_bench.files import NOT_BLANK

    zero_width = "\u00ad\u115f\u1160\u180e\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\u2800\u3164\ufeff\uffa0"  # invisible; `strip` keeps them
    every = map(chr, range(sys.maxunicode + 1))
    assert [c for c in every if (c.isspace() or c in zero_width) == bool(re.search(NOT_BLANK, c))] == []


@pytest.mark.parametrize("question", ["\u200b", "\u200b\ufeff \u2060"])
def test_a_question_of_zero_width_characters_is_refused_on_every_path(server, trained, tmp_path, capsys, question):
    """The server (422), `ask` (one line) and a data file (one line naming the row): the same rule, files.blank."""
    from albert_bench.cli import main

    url, _ = server
    r = post(url, "/v1/answer", {"question": question, "context": "The job of Oscar is pilot."})
    assert r.status_code == 422 and r.json()["error"].startswith("question: must not be empty or only white space"), r.text
    assert main(["ask", "--model", str(trained[0] / "best"), "--question", question, "--context", "The job of Oscar is pilot."]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == "error: --question is empty; pass a question in words"
    rows = tmp_path / "q.jsonl"
    rows.write_text(json.dumps({"id": "a", "question": question, "context": "x", "answers": {"text": [], "answer_start": []}}) + "\n")
    assert main(["data", "stats", str(rows)]) == 2
    assert "field 'question' is empty" in capsys.readouterr().err


def test_a_body_of_many_keys_costs_little_and_says_little(server):
    url, _ = server
    body = '{"question": "Who?", "context": "x", ' + ", ".join(f'"k{i}": 0' for i in range(2000)) + "}"
    r = httpx.post(url + "/v1/answer", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json() == {"error": "body: an object with 2,002 keys; at most 16 are expected here"}
    body = {"question": "Who?", "context": "x", **{f"k{i}" + "y" * 300: 0 for i in range(10)}}
    r = post(url, "/v1/answer", body)
    err = r.json()["error"]
    assert r.status_code == 422 and err.endswith("; and 7 more") and len(err) < 600  # three reported, names cut short


def test_allowed_hosts_are_read_like_the_header(qa):
    from fastapi.testclient import TestClient

    from albert_bench.errors import BenchError

    app = create_app(qa, allowed_hosts=["[::1]", "Example.com:8000"])
    with TestClient(app, base_url="http://example.com") as c:
        assert c.get("/healthz").status_code == 200
        assert c.get("/healthz", headers={"Host": "[::1]:9000"}).status_code == 200
        for bad in ("[localhost]", "[::1]junk", "example.com:abc", "evil.com"):
            assert c.get("/healthz", headers={"Host": bad}).status_code == 400, bad
    with pytest.raises(BenchError, match="--allowed-hosts: a b is not a host name"):
        create_app(qa, allowed_hosts=["a b"])


def test_only_the_api_needs_json_and_the_page_is_served_only_with_its_policy(server):
    url, _ = server
    r = httpx.post(url + "/healthz", content=b"x", headers={"Content-Type": "text/plain"})
    assert r.status_code == 405 and r.json()["error"].startswith("method: POST")
    assert httpx.get(url + "/static/index.html").status_code == 404 and httpx.get(url + "/page.html").status_code == 404


@pytest.mark.parametrize("path", ["answer", "alternatives", "no-answer", "error"])
def test_web_page_shows_markup_from_the_server_as_text(server, path):
    """Whatever the server sends (an answer, alternatives, an error holding markup), the page inserts text: the
    API is answered here by Playwright with made-up bodies, so every path really carries markup."""
    url, _ = server
    evil = '<img src=x onerror="window.pwned=1"><b>bold</b>'
    context = f"Before {evil} after."
    start = context.index(evil)
    alt = {"text": evil, "start": start, "end": start + len(evil), "start_utf16": start, "end_utf16": start + len(evil), "score": 1.0, "probability": 0.9}
    bodies = {
        "answer": (200, {"answer": evil, "start": start, "end": alt["end"], "start_utf16": start, "end_utf16": alt["end"], "score": 1.0,
                         "no_answer": False, "no_answer_score": 0.0, "null_odds": -1.0, "threshold": 0.0, "alternatives": [alt]}),
        "no-answer": (200, {"answer": "", "start": None, "end": None, "start_utf16": None, "end_utf16": None, "score": 0.0,
                            "no_answer": True, "no_answer_score": 0.0, "null_odds": 1.0, "threshold": 0.0, "alternatives": [alt]}),
        "error": (422, {"error": f"question: {evil}"}),
    }
    status, body = bodies.get(path, bodies["answer"])
    with offline_page(url) as page:
        page.route("**/v1/answer", lambda route: route.fulfill(status=status, content_type="application/json", body=json.dumps(body)))
        page.goto(url + "/")
        ask_on_page(page, context, "Which?")
        if path == "alternatives":
            page.click("#alternatives li")
        if path == "error":
            assert page.inner_text("#status") == f"Error: question: {evil}"
        else:
            assert page.inner_text("#passage") == context and evil in page.inner_text("#alternatives")
        if path in ("answer", "alternatives"):
            assert page.inner_text("#passage mark") == evil and evil in page.inner_text("#status")
        assert page.query_selector("#result img, #result b, #result script") is None
        assert page.evaluate("window.pwned") is None
        assert [p for p in page.problems if "422" not in p] == []


@pytest.mark.parametrize("where, words", [
    (["--port", "99999"], "--port 99999: a port is a number from 0 to 65535"),
    (["--host", "no-such-host.invalid"], "--host 'no-such-host.invalid': cannot resolve it"),
    (["--port", "IN_USE"], "in use by another program; pass another --port"),
])
def test_a_bad_address_is_one_line_before_the_model_loads(trained, capsys, monkeypatch, where, words):
    import socket

    from albert_bench import qa as qa_module
    from albert_bench.cli import main

    loads = []
    monkeypatch.setattr(qa_module.QuestionAnswerer, "from_pretrained", classmethod(lambda cls, *a, **k: loads.append(a)))
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    held.listen()
    where = [str(held.getsockname()[1]) if w == "IN_USE" else w for w in where]
    try:
        assert main(["serve", "--model", str(trained[0] / "best"), *where]) == 2
    finally:
        held.close()
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("error: ") and words in err
    assert loads == []  # refused before the model was loaded


def test_uptime_is_counted_on_a_clock_that_a_wall_clock_step_does_not_move(qa, monkeypatch):
    """/healthz's uptime_s is a duration: a wall clock stepped forward an hour on every read leaves it small."""
    from fastapi.testclient import TestClient

    real = time.time
    steps = iter(range(1, 10**9))
    monkeypatch.setattr(time, "time", lambda: real() + 3600 * next(steps))
    with TestClient(create_app(qa, allowed_hosts=["testserver"])) as c:
        uptime = c.get("/healthz").json()["uptime_s"]
    monkeypatch.undo()
    assert 0 <= uptime < 600
