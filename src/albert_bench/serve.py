"""`albert-bench serve`: the HTTP API and the answer-highlighting web page.

    POST /v1/answer        {"question", "context", "top_k"?} → {"answer", "start", "end", "start_utf16", ..., "alternatives"}
    POST /v1/answer:batch  {"items": [{"question", "context", "top_k"?}, ...]} → {"results": [...]}
    GET  /healthz          model, backend, precision (and why: what --precision auto picked), queue
    GET  /                 the web page;  GET /docs  Swagger UI (offline);  GET /openapi.json

Requests that arrive together are answered in shared turns of the model (micro-batching): a single worker task
takes one question from each waiting request in turn, up to `max_batch` questions or `turn_windows` windows, and
runs the model in a thread, so the event loop never waits on it.
A server that other teams share must not let one client hurt the others, hence, in order:
- limits before work (`ServeLimits`): headers and body must arrive in time (408), the body is cut off while it
  is read, sizes are checked and the request's cost counted in windows before the model sees anything, a full
  queue (questions or windows) answers 503 at once, and large JSON bodies are parsed in another process;
- turns taken fairly: a small request waits behind at most one turn of a large one; a client that leaves has
  its questions dropped before the model runs them;
- text the tokenizer cannot take (lone surrogates) is refused at the edge, naming the field;
- if a shared batch fails anyway, each of its requests is retried alone, so only the culprit fails (500 with a
  request id; the traceback goes to the server log, never to the client);
- every error is `{"error": "<field>: <what>"}` with a documented status (README, OpenAPI schema).
Offsets count Unicode code points (Python's `str`); `start_utf16`/`end_utf16` count UTF-16 code units, which
is what JavaScript's `String.slice` takes.
"""


import asyncio
import bisect
import ipaddress
import json
import logging
import os
import re
import time
import uuid
from collections import deque
from contextlib import asynccontextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from . import __version__
from . import settings
from .errors import BenchError
from .files import NOT_BLANK, blank, lone_surrogate, parse_json
from .decode import TOP_K, DecodeConfig
from .settings import setting

STATIC = Path(__file__).with_name("static")  # the page's script, style and icon, served at /static
PAGE = Path(__file__).with_name("page.html")  # served only at /, with its Content-Security-Policy
log = logging.getLogger("albert_bench.serve")

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
# The page may run only its own script and style, and talk only to this server.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
                               "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


@dataclass(frozen=True)
class ServeLimits:
    """What the server takes on, checked before any work. Each field is a `serve` flag (`--max-body-bytes`, ...).
    A request's cost is counted in windows (max_seq_length tokens each: what the model runs on), so a long
    passage costs what it costs, whatever its character count."""

    max_body_bytes: int = setting(8 * 1024 * 1024, "request bodies larger than this many bytes get 413 while they are read", lo=1, hi=1 << 30)
    max_question_chars: int = setting(1_000, "longer questions get 413", lo=1, hi=1_000_000)
    max_context_chars: int = setting(100_000, "longer contexts get 413", lo=1, hi=100_000_000)
    max_batch_items: int = setting(64, "batch requests with more items get 413", lo=1, hi=100_000)
    max_passages: int = setting(32, "a question asked over more passages (`contexts`) gets 413 (and over more than --max-queue, which a queue could never hold)", lo=1, hi=100_000)

    @property
    def passages(self) -> int:
        """The most passages a request may send: each waits in the queue as a question of its own."""
        return min(self.max_passages, self.max_queue)
    max_batch_chars: int = setting(1_000_000, "batch requests whose questions and contexts hold more characters in all get 413", lo=1, hi=1_000_000_000)
    max_request_windows: int = setting(256, "requests that need more windows (of max_seq_length tokens, in all their items) get 413", lo=1, hi=1_000_000)
    max_queue: int = setting(256, "questions waiting for the model; when full, new requests get 503 with Retry-After", lo=1, hi=1_000_000)
    max_queue_windows: int = setting(2048, "windows waiting for the model; when full, new requests get 503 with Retry-After", lo=1, hi=10_000_000)
    max_batch: int = setting(32, "most questions answered in one turn of the model (requests take turns: one question each, round the waiting requests)", lo=1, hi=4096)
    turn_windows: int | None = setting(None, "a turn of the model stops taking questions at this many windows, so that a small request waits behind at most one turn "
                                             "of a large one (default: 4 forward passes' worth, 4 × the batch size: 16 windows for a base model on CPU, 256 on a GPU)", lo=1, hi=65_536)
    header_timeout_s: float = setting(10.0, "connections that have not sent a request's headers within this many seconds get 408 and are closed", lo=0.1, hi=3600)
    body_timeout_s: float = setting(60.0, "requests whose body has not arrived within this many seconds get 408 and the connection is closed", lo=0.1, hi=3600)

    def __post_init__(self):
        settings.check(self)
        if self.max_queue < self.max_batch_items:
            raise BenchError(f"--max-queue ({self.max_queue}) must be at least --max-batch-items ({self.max_batch_items}), or no full batch could ever be queued")
        if self.max_queue_windows < self.max_request_windows:
            raise BenchError(f"--max-queue-windows ({self.max_queue_windows}) must be at least --max-request-windows ({self.max_request_windows}), or no largest request could ever be queued")


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def _no_surrogates(v):
    # Before pydantic's own str check, which refuses them too but cannot say where: the tokenizer cannot take them.
    if isinstance(v, str) and (at := lone_surrogate(v)) is not None:
        raise PydanticCustomError("surrogate", f"contains a lone surrogate at character {at}; send valid Unicode text")
    return v


def _json_integer(v):
    # JSON Schema's integer: 3 and 3.0, never true (Python's bool is an int) nor "3".
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, bool):
        raise PydanticCustomError("int_type", "Input should be a valid integer, not a boolean")
    return v




def _not_blank(v: str) -> str:
    if blank(v):
        raise PydanticCustomError("blank", "must not be empty or only white space (or zero-width characters)")
    return v


def _text(limit: int, description: str):
    return Annotated[str, StringConstraints(min_length=1, max_length=limit), BeforeValidator(_no_surrogates), AfterValidator(_not_blank),
                     Field(description=f"{description}; 1 to {limit:,} characters, not only white space", json_schema_extra={"pattern": NOT_BLANK})]


def request_models(limits: ServeLimits):
    """The request bodies, with the limits this server enforces written into their schema."""

    top_k_field = Annotated[int, BeforeValidator(_json_integer)]
    top_k_info = dict(ge=1, le=DecodeConfig.n_best_size, description="how many candidate answers to return in `alternatives`")

    class BatchItem(BaseModel):
        model_config = ConfigDict(strict=True, extra="forbid")  # `top_k: true` is not 1; an unknown field is a typo
        question: _text(limits.max_question_chars, "the question, in words")
        context: _text(limits.max_context_chars, "the passage that may hold the answer")
        top_k: top_k_field = Field(TOP_K, **top_k_info)

    class AnswerRequest(BaseModel):
        # `context`, or `contexts` (one question over several passages: one answer, each candidate naming its passage)
        model_config = ConfigDict(strict=True, extra="forbid", json_schema_extra={"oneOf": [{"required": ["context"]}, {"required": ["contexts"]}]})
        question: _text(limits.max_question_chars, "the question, in words")
        context: _text(limits.max_context_chars, "the passage that may hold the answer (or send `contexts`)") = None
        contexts: list[_text(limits.max_context_chars, "a passage")] = Field(None, min_length=1, max_length=limits.passages, description=(
            f"instead of `context`: 1 to {limits.passages} passages (a retriever's top documents); the question gets one answer "
            "over all of them, scored alike, the same text found in several passages merged (`locations`), and one no-answer decision"))
        top_k: top_k_field = Field(TOP_K, **top_k_info)

        @model_validator(mode="after")
        def one_context(self):
            if (self.context is None) == (self.contexts is None):
                raise PydanticCustomError("context_choice", "send `context` (one passage) or `contexts` (a list of passages), one of the two")
            return self

    class BatchRequest(BaseModel):
        model_config = ConfigDict(strict=True, extra="forbid")
        items: list[BatchItem] = Field(min_length=1, max_length=limits.max_batch_items, description=(
            f"1 to {limits.max_batch_items} questions; their questions and contexts may hold {limits.max_batch_chars:,} characters in all"))

        @model_validator(mode="after")
        def total_size(self):
            n = sum(len(it.question) + len(it.context) for it in self.items)
            if n > limits.max_batch_chars:
                raise PydanticCustomError("batch_too_large", f"{n:,} characters in all; the limit is {limits.max_batch_chars:,} (--max-batch-chars)")
            return self

    return AnswerRequest, BatchRequest


class Location(BaseModel):
    passage: int = Field(description="index into `contexts`")
    start: int
    end: int
    start_utf16: int
    end_utf16: int


class Alternative(BaseModel):
    text: str
    passage: int | None = Field(None, description="with `contexts`: the passage of this candidate; null otherwise")
    start: int = Field(description="character (Unicode code point) offset in the context")
    end: int
    start_utf16: int = Field(description="the same offset in UTF-16 code units, for JavaScript's String.slice")
    end_utf16: int
    score: float
    probability: float
    locations: list[Location] | None = Field(None, description="with `contexts`: every passage where this text was found")


class AnswerResponse(BaseModel):
    answer: str
    passage: int | None = Field(None, description="with `contexts`: the passage the answer is in (an index into `contexts`); null otherwise")
    start: int | None = Field(description="character (Unicode code point) offset of the answer in the context (or its passage) as sent; null for no answer")
    end: int | None
    start_utf16: int | None = Field(description="the same offsets in UTF-16 code units (JavaScript string indices)")
    end_utf16: int | None
    score: float
    no_answer: bool
    no_answer_score: float
    null_odds: float
    threshold: float
    locations: list[Location] | None = Field(None, description="with `contexts`: every passage where the answer's text was found; null otherwise")
    p_correct: float | None = Field(description="the probability that this answer (a span, or no answer) is an exact match, from the "
                                                "model's calibration (`albert-bench calibrate`); null when the model is not calibrated")
    alternatives: list[Alternative]


class BatchResponse(BaseModel):
    results: list[AnswerResponse]


class ErrorResponse(BaseModel):
    error: str = Field(description="`<field>: <what is wrong and how to fix it>`")
    request_id: str | None = Field(None, description="on 500: quote it to whoever runs the server; their log has the details")


ERROR_RESPONSES = {
    400: {"model": ErrorResponse, "description": "the Host header is not one this server answers (--allowed-hosts), or the request is not valid HTTP/1.1"},
    408: {"model": ErrorResponse, "description": "the headers or the body did not arrive in time (--header-timeout-s, --body-timeout-s); the connection is closed"},
    413: {"model": ErrorResponse, "description": "the body, a question, a context or a batch is over its limit, or the request needs more windows than --max-request-windows"},
    415: {"model": ErrorResponse, "description": "the body is not sent as application/json"},
    422: {"model": ErrorResponse, "description": "the body is not valid JSON in UTF-8, or a field is missing, mistyped, blank or holds text the tokenizer cannot take"},
    500: {"model": ErrorResponse, "description": "answering this request failed; other requests are unaffected"},
    503: {"model": ErrorResponse, "description": "the queue is full (--max-queue, --max-queue-windows); retry after the Retry-After header's seconds"},
}


def utf16_index(context: str):
    """A function mapping code-point offsets in `context` to UTF-16 offsets: each character outside the Basic
    Multilingual Plane before the offset (emoji, mathematical letters) counts twice in UTF-16."""
    astral = [m.start() for m in _ASTRAL.finditer(context)]
    return lambda i: None if i is None else i + bisect.bisect_left(astral, i)


def with_utf16(res: dict, context: str | list[str]) -> dict:
    """`res` with UTF-16 offsets beside the code-point ones; for an answer over several passages (`contexts`), each
    offset is into the passage its `passage` names."""
    many = isinstance(context, list)
    index = [utf16_index(c) for c in context] if many else None

    def add(d: dict) -> dict:
        u = index[d["passage"]] if many and d.get("passage") is not None else (utf16_index(context) if not many else (lambda i: None))
        out = {**d, "start_utf16": u(d["start"]), "end_utf16": u(d["end"])}
        if many and d.get("locations") is not None:
            out["locations"] = [add(w) for w in d["locations"]]
        return out

    return {**add(res), "alternatives": [add(a) for a in res["alternatives"]]}


class QueueFull(Exception):
    pass


class MicroBatcher:
    """Answers (question, context, top_k) items in shared turns of the model, fairly: each waiting request gives
    one question to a turn, round the requests, until the turn holds `max_batch` questions or `turn_windows`
    windows. So a request of one question waits behind at most one turn of a large one, not behind all of it.
    The queue is bounded in questions and in windows; a request whose client left is dropped from the queue
    before the model sees it (`submit` is cancelled)."""

    def __init__(self, qa, limits: "ServeLimits | None" = None, enabled: bool = True):
        self.qa, self.limits = qa, limits or ServeLimits()
        self.max_batch = self.limits.max_batch if enabled else 1
        self.turn_windows = self.limits.turn_windows or 4 * qa.batch_size
        self.requests: deque[deque] = deque()  # per request: its (item, future, windows) not yet taken
        self.queued = self.queued_windows = 0
        self.wake: asyncio.Event | None = None
        self.task: asyncio.Task | None = None
        self.batches = 0  # forward passes run: for tests and /healthz
        self.retried = 0  # batches that failed and were answered request by request
        self.dropped = 0  # questions dropped because their client left

    async def start(self) -> None:
        self.wake = asyncio.Event()
        self.task = asyncio.create_task(self._worker())

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()

    async def submit(self, items: list[tuple[str, str, int]], windows: list[int] | None = None) -> list:
        """Each item's result dict, or the exception that answering it alone raised. All or none of a request's
        items are queued: QueueFull when they do not fit. Cancelled (the client left): its items still waiting
        are dropped."""
        windows = windows or [1] * len(items)
        if self.queued + len(items) > self.limits.max_queue or self.queued_windows + sum(windows) > self.limits.max_queue_windows:
            raise QueueFull
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in items]
        mine = deque(zip(items, futures, windows))
        self.requests.append(mine)
        self.queued += len(items)
        self.queued_windows += sum(windows)
        self.wake.set()
        try:
            return list(await asyncio.gather(*futures, return_exceptions=True))
        finally:
            if mine:  # cancelled while waiting: nobody will read these answers
                self.dropped += len(mine)
                self._release(mine)
                mine.clear()

    def _release(self, entries) -> None:
        self.queued -= len(entries)
        self.queued_windows -= sum(w for _, _, w in entries)

    def _take(self) -> list:
        """The next turn: one question from each waiting request in turn (round robin), within the turn's bounds."""
        batch, windows = [], 0
        while self.requests and len(batch) < self.max_batch:
            mine = self.requests.popleft()
            if not mine:
                continue  # answered or dropped
            entry = mine[0]
            if batch and windows + entry[2] > self.turn_windows:
                self.requests.appendleft(mine)
                break
            mine.popleft()
            self._release([entry])
            batch.append(entry)
            windows += entry[2]
            if mine:
                self.requests.append(mine)
        return batch

    async def _worker(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = self._take()
            if not batch:
                self.wake.clear()
                await self.wake.wait()
                continue
            try:
                # The model runs in a thread: the event loop keeps accepting requests meanwhile.
                results = await loop.run_in_executor(None, self._answer, [item for item, _, _ in batch])
            except Exception as e:  # noqa: BLE001 - the worker must outlive anything
                results = [e] * len(batch)
            for (_, fut, _), res in zip(batch, results):
                if fut.done():  # the client went away
                    continue
                if isinstance(res, Exception):
                    fut.set_exception(res)
                else:
                    fut.set_result(res)

    def _answer(self, items: list[tuple[str, str, int]]) -> list:
        """Results for a batch. If the shared forward pass fails, the batch is split in halves and each half
        answered on its own, down to single requests: only the culprit fails, found in about 2·log2(n) passes
        rather than n."""
        top_k = max(k for _, _, k in items)
        try:
            results = self.qa.answer_batch([(q, c) for q, c, _ in items], top_k)
            self.batches += 1
        except Exception as e:  # noqa: BLE001
            if len(items) == 1:
                return [e]
            self.retried += 1
            half = len(items) // 2
            return self._answer(items[:half]) + self._answer(items[half:])
        if len(results) != len(items):  # never hand one request another's answer
            raise RuntimeError(f"answer_batch returned {len(results)} results for {len(items)} questions")
        return [{**res, "alternatives": res["alternatives"][:k]} for (_, _, k), res in zip(items, results)]


def host_name(value: str) -> str | None:
    """The host of a Host header or an --allowed-hosts entry, lower-cased, without port or IPv6 brackets:
    'Example.com:8000' → 'example.com', '[::1]:8000' → '::1'; None when it is not a well-formed host."""
    m = re.fullmatch(r"\[([0-9a-fA-F:.]+)\](?::\d{1,5})?|([^:\[\]/\s]+)(?::\d{1,5})?|([0-9a-fA-F:]*:[0-9a-fA-F:.]*)", value.strip())
    if not m:
        return None
    host = (m.group(1) or m.group(2) or m.group(3)).lower()
    if m.group(1) or m.group(3):  # bracketed, or a bare IPv6 address (an --allowed-hosts entry)
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return None
    return host


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def default_allowed_hosts(bind_host: str) -> list[str]:
    """Loopback names when bound to loopback (a page on another site cannot reach us through DNS rebinding);
    any host otherwise, with a warning (`serve` prints it) to set --allowed-hosts."""
    return [*LOOPBACK_NAMES, bind_host] if is_loopback(bind_host) else ["*"]


def _json_response(status: int, error: str, request_id: str | None = None, headers: dict | None = None):
    from fastapi.responses import JSONResponse

    body = {"error": error} if request_id is None else {"error": error, "request_id": request_id}
    return JSONResponse(status_code=status, content=body, headers=headers)


class Guard:
    """ASGI middleware in front of the app: a request id, the Host allow-list, POST bodies (JSON content type,
    at most `max_body` bytes, cut off while they are read, before any parsing, within `body_timeout_s`), and
    `X-Content-Type-Options: nosniff` on every response."""

    def __init__(self, app, allowed_hosts: list[str], max_body: int, body_timeout_s: float = ServeLimits.body_timeout_s):
        self.app, self.max_body, self.body_timeout_s = app, max_body, body_timeout_s
        self.allowed = {h if h == "*" else host_name(h) for h in allowed_hosts}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        from starlette.datastructures import Headers, MutableHeaders

        rid = uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = rid
        headers = Headers(scope=scope)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                h = MutableHeaders(scope=message)
                h["X-Content-Type-Options"] = "nosniff"
                h["X-Request-ID"] = rid
            await send(message)

        host = host_name(headers.get("host", ""))
        if "*" not in self.allowed and host not in self.allowed:
            shown = (host or headers.get("host", ""))[:80] or "(none)"
            return await _json_response(400, f"host: {shown!r} is not served here; the server answers {', '.join(sorted(self.allowed))} (--allowed-hosts)")(scope, receive, send_with_headers)
        if scope["method"] == "POST" and scope["path"].startswith("/v1/"):
            ctype = headers.get("content-type", "")
            main = ctype.split(";")[0].strip().lower()
            if not (main == "application/json" or (main.startswith("application/") and main.endswith("+json"))):
                return await _json_response(415, f"content-type: {ctype[:80] or '(none)'!r}; send the body as application/json")(scope, receive, send_with_headers)
            try:
                async with asyncio.timeout(self.body_timeout_s):
                    body = await self._read_body(headers, receive)
            except TimeoutError:  # a client trickling its body holds a connection, not the server
                return await _json_response(408, f"body: not received within {self.body_timeout_s:g} s (--body-timeout-s); send it at once",
                                            headers={"Connection": "close"})(scope, receive, send_with_headers)
            if body is ...:  # the client went away before sending it all: no work for nobody
                return
            if body is None:
                return await _json_response(413, f"body: larger than {self.max_body:,} bytes (--max-body-bytes)")(scope, receive, send_with_headers)
            receive = _replay(body, receive)
        await self.app(scope, receive, send_with_headers)

    async def _read_body(self, headers, receive):
        """The whole body; None as soon as it is over the limit (by its Content-Length, or while reading);
        Ellipsis when the client disconnected first."""
        declared = headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > self.max_body:
            return None
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return ...
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)


def _replay(body: bytes, receive):
    """An ASGI receive that hands the app the body already read, then waits on the client as before."""
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()
    return replay


def _describe(err: dict, limits: ServeLimits) -> str:
    # each part cut to 40 characters (an unknown key can be any length); the schema is at most three levels deep
    loc = ".".join(str(x)[:40] for x in err.get("loc", ()) if x != "body") or "body"
    if err["type"] == "json_invalid":
        return f"body: {err.get('ctx', {}).get('error', 'not valid JSON')}"
    if err["type"] == "string_too_long":
        field = next((p for p in reversed(loc.split(".")) if not p.isdigit()), "")  # contexts.2: a passage of `contexts`
        flag = {"question": "--max-question-chars", "context": "--max-context-chars", "contexts": "--max-context-chars"}.get(field, "")
        return f"{loc}: {len(err['input']):,} characters; the limit is {err['ctx']['max_length']:,} ({flag})"
    if err["type"] == "too_long":
        if loc == "contexts":
            return f"{loc}: {err.get('ctx', {}).get('actual_length', '?')} passages; the limit is {limits.passages} (--max-passages, at most --max-queue)"
        return f"{loc}: {err.get('ctx', {}).get('actual_length', '?')} items; the limit is {limits.max_batch_items} (--max-batch-items)"
    if err["type"] == "missing":
        return f"{loc}: required" if loc != "body" else "body: empty; send a JSON object"
    if err["type"] == "extra_forbidden":
        return f"{loc}: not a field of this request; the fields are question, context (or contexts) and top_k"
    if err["type"] == "batch_too_large":
        return f"items: {err['msg']}"
    if err["type"] == "too_short":
        return f"{loc}: empty; send at least one passage" if loc.endswith("contexts") else f"{loc}: empty"
    if err["type"] == "string_too_short":
        return f"{loc}: must not be empty"
    return f"{loc}: {err.get('msg', 'invalid')}"


SIZE_ERRORS = ("string_too_long", "too_long", "batch_too_large")
MAX_KEYS = 16  # per JSON object in a request body: a request has 3 fields; thousands of keys are only work
INLINE_JSON_BYTES = 256 * 1024  # bodies up to this size are parsed on the event loop: under a few milliseconds


def _parse_request_json(body: bytes):
    return parse_json(body, max_keys=MAX_KEYS)


class JSONParser:
    """Parses request bodies without letting a large one stall the others: small bodies (most requests) on the
    event loop, at once; larger ones in a separate process, one at a time. Not a thread: parsing is pure Python
    callbacks and would hold the interpreter's lock that the event loop and the model's thread need (measured:
    threads made a small request slower beside four 8 MB bodies, not faster)."""

    def __init__(self):
        self.pool = None

    def start(self) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # spawn: a fork of a process running torch's thread pools is unsafe; the child imports only files.py
        self.pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        self.pool.submit(_parse_request_json, b"{}")  # start it now, not on the first large body

    def stop(self) -> None:
        if self.pool:  # waits for a parse under way (seconds at most): a worker left behind would outlive the server
            self.pool.shutdown(wait=True, cancel_futures=True)

    async def parse(self, body: bytes):
        if len(body) <= INLINE_JSON_BYTES or self.pool is None:
            return _parse_request_json(body)
        return await asyncio.wrap_future(self.pool.submit(_parse_request_json, body))


async def _client_gone(receive) -> None:
    """Returns when the client disconnects (its body was read already: what comes next is the disconnect)."""
    while (await receive())["type"] != "http.disconnect":
        await asyncio.sleep(0)


def create_app(qa, limits: ServeLimits = ServeLimits(), micro_batching: bool = True, allowed_hosts: list[str] | None = None):
    from fastapi import Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse
    from fastapi.routing import APIRoute
    from fastapi_offline import FastAPIOffline
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
    from starlette.staticfiles import StaticFiles

    allowed_hosts = allowed_hosts or list(LOOPBACK_NAMES)
    if bad := [h for h in allowed_hosts if h != "*" and host_name(h) is None]:
        raise BenchError(f"--allowed-hosts: {', '.join(bad)} is not a host name; pass names such as example.com or [::1]")
    batcher = MicroBatcher(qa, limits, micro_batching)
    parser = JSONParser()
    AnswerRequest, BatchRequest = request_models(limits)

    loop_stall = {"max_s": 0.0}

    async def watch_loop(period: float = 0.01) -> None:
        # The longest the event loop went without running (in /healthz): every request waits that long, so
        # nothing may block it for long, whatever a client sends.
        loop = asyncio.get_running_loop()
        while True:
            t = loop.time()
            await asyncio.sleep(period)
            loop_stall["max_s"] = max(loop_stall["max_s"], loop.time() - t - period)

    @asynccontextmanager
    async def lifespan(_app):
        await batcher.start()
        parser.start()
        watcher = asyncio.create_task(watch_loop())
        yield
        watcher.cancel()
        parser.stop()
        await batcher.stop()

    class StrictJSONRequest(Request):
        """The body parsed by the project's strict JSON reader: invalid UTF-8, NaN, 5,000-digit numbers and
        deep nesting become 422 naming the problem, not FastAPI's bare 400. Large bodies are parsed in another
        process (`JSONParser`): megabytes of JSON from one client must not stall the others."""

        async def json(self):
            if not hasattr(self, "_json"):
                try:
                    self._json = await parser.parse(await self.body())
                except BenchError as e:
                    raise json.JSONDecodeError(str(e), "", 0) from None
            return self._json

    class StrictRoute(APIRoute):
        def get_route_handler(self):
            handler = super().get_route_handler()

            async def strict_handler(request):
                return await handler(StrictJSONRequest(request.scope, request.receive))
            return strict_handler

    # FastAPIOffline: FastAPI whose /docs and /redoc load Swagger UI and ReDoc from the installed package, not a CDN.
    app = FastAPIOffline(title="albert-bench", version=__version__, lifespan=lifespan,
                         favicon_url="/static/favicon.svg", description=(
                             "Extractive question answering: the answer's span in the passage, or no answer. Offsets count "
                             "Unicode code points; `*_utf16` offsets count UTF-16 code units (JavaScript string indices). "
                             "Every error is `{\"error\": \"<field>: <what>\"}`."))
    app.router.route_class = StrictRoute
    app.state.batcher = batcher
    app.state.limits = limits
    app.add_middleware(Guard, allowed_hosts=allowed_hosts, max_body=limits.max_body_bytes, body_timeout_s=limits.body_timeout_s)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def request_id(request: Request) -> str:
        return request.scope.get("state", {}).get("request_id", "-")

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError):
        errs = exc.errors()
        big = [e for e in errs if e["type"] in SIZE_ERRORS]
        shown = (big or errs)[:3]  # a body of 500,000 unknown keys gets three lines' worth, not 40 MB
        more = len(big or errs) - len(shown)
        return _json_response(413 if big else 422, "; ".join(_describe(e, limits) for e in shown) + (f"; and {more:,} more" if more else ""))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        if exc.status_code == 404:
            msg = f"path: {request.url.path[:100]!r} is not an endpoint of this server; see /docs"
        elif exc.status_code == 405:
            msg = f"method: {request.method} is not allowed on {request.url.path}"
        else:
            msg = f"request: {exc.detail}"
        return _json_response(exc.status_code, msg, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception):
        log.error("request %s failed", request_id(request), exc_info=exc)
        return _json_response(500, f"server: internal error ({type(exc).__name__}); request id {request_id(request)}", request_id(request))

    from .qa import merge_passages

    async def answer_items(request: Request, items) -> list[dict] | object:
        """The results for `items`, or the error response that the whole request gets. Its cost in windows is
        counted first (tokenizing, in a thread); if the client leaves before its answers, they are not computed."""
        # one (question, passage) pair per passage: an item with `contexts` is asked over each, then merged
        passages = [it.contexts if getattr(it, "contexts", None) is not None else [it.context] for it in items]
        pairs = [(it.question, c, it.top_k if getattr(it, "contexts", None) is None else DecodeConfig.n_best_size)
                 for it, ps in zip(items, passages) for c in ps]
        try:
            windows = await run_in_threadpool(qa.count_windows, [(q, c) for q, c, _ in pairs])
        except BenchError as e:
            return _json_response(422, f"request: {e}")
        if (n := sum(windows)) > limits.max_request_windows:
            what = ("contexts" if len(passages[0]) > 1 else "context") if len(items) == 1 else "items"
            return _json_response(413, f"{what}: needs {n:,} windows of the model's input; the limit is {limits.max_request_windows:,} (--max-request-windows); "
                                       f"send {'a shorter passage' if what == 'context' else 'fewer or shorter passages' if what == 'contexts' else 'fewer items or shorter passages'}")
        job = asyncio.ensure_future(batcher.submit(pairs, windows))
        gone = asyncio.ensure_future(_client_gone(request.receive))
        try:
            await asyncio.wait({job, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
        if not job.done():  # the client left: its questions still waiting leave the queue, unanswered
            job.cancel()
            return _json_response(499, "client: closed the connection before the answer")  # nobody reads it
        try:
            results = job.result()
        except QueueFull:
            return _json_response(503, f"queue: {batcher.queued} questions are waiting (--max-queue {limits.max_queue}), "
                                       f"{batcher.queued_windows:,} windows (--max-queue-windows {limits.max_queue_windows:,}); retry shortly",
                                  headers={"Retry-After": "1"})
        for i, res in enumerate(results):
            if isinstance(res, BaseException):
                where = "request" if len(items) == 1 else f"items.{i}"
                if isinstance(res, BenchError):
                    return _json_response(422, f"{where}: {res}")
                rid = request_id(request)
                log.error("request %s failed while answering%s", rid, "" if len(items) == 1 else f" item {i}", exc_info=res)
                return _json_response(500, f"{where}: answering failed ({type(res).__name__}); request id {rid}", rid)
        out, at = [], 0
        for it, ps in zip(items, passages):
            mine, at = results[at : at + len(ps)], at + len(ps)
            if getattr(it, "contexts", None) is None:
                out.append(with_utf16(mine[0], it.context))
            else:
                out.append(with_utf16(merge_passages(mine, qa.qa.null_threshold, it.top_k, qa.calibration), list(ps)))
        return out

    @app.post("/v1/answer", response_model=AnswerResponse, responses=ERROR_RESPONSES)
    async def answer(req: AnswerRequest, request: Request):
        out = await answer_items(request, [req])
        return out[0] if isinstance(out, list) else out

    @app.post("/v1/answer:batch", response_model=BatchResponse, responses=ERROR_RESPONSES)
    async def answer_batch(req: BatchRequest, request: Request):
        out = await answer_items(request, req.items)
        return {"results": out} if isinstance(out, list) else out

    started = time.monotonic()  # uptime: a wall clock can be stepped (NTP, a VM resumed)

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok", "model": display_name(qa.name), "device": str(qa.device), "backend": qa.backend, "precision": qa.precision,
                "precision_reason": qa.precision_reason, "bf16_check": qa.bf16_check, "micro_batching": micro_batching, "max_batch": batcher.max_batch, "turn_windows": batcher.turn_windows, "batches": batcher.batches,
                "retried_batches": batcher.retried, "queued": batcher.queued, "queued_windows": batcher.queued_windows,
                "dropped": batcher.dropped, "loop_stall_max_ms": round(loop_stall["max_s"] * 1000, 1),
                "limits": {f.name: getattr(limits, f.name) for f in fields(limits)}, "uptime_s": round(time.monotonic() - started, 1),
                # an int8 export's accuracy check (its EM/F1 against PyTorch's, from onnx_info.json), else null
                "int8_accuracy": getattr(qa.model, "info", {}).get("accuracy") if qa.precision == "int8" else None}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page():
        return HTMLResponse(PAGE.read_text(encoding="utf-8"), headers=PAGE_HEADERS)

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon():
        from fastapi.responses import FileResponse

        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")

    return app


def http_protocol(limits: ServeLimits):
    """uvicorn's HTTP/1.1 protocol (h11) with what a shared server needs below the app: a deadline for a
    request's headers (a client sending half of them holds a connection for seconds, not forever) and the
    errors uvicorn answers itself (malformed requests, conflicting framing, oversized headers) in the API's
    JSON shape instead of plain text."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class Protocol(H11Protocol):
        header_timer = None
        started = False  # bytes of a request's headers arrived

        def connection_made(self, transport):
            super().connection_made(transport)
            self._watch_headers()

        def data_received(self, data):
            self.started = self.started or self.conn.their_state is h11.IDLE
            super().data_received(data)
            self._watch_headers()

        def connection_lost(self, exc):
            self._stop_timer()
            super().connection_lost(exc)

        def _stop_timer(self):
            if self.header_timer is not None:
                self.header_timer.cancel()
                self.header_timer = None

        def _watch_headers(self):
            # Waiting for headers: a fresh connection, or a keep-alive one that began another request (uvicorn's
            # own keep-alive timeout covers the wait before that first byte, and stops at it).
            waiting = self.conn.their_state is h11.IDLE and self.timeout_keep_alive_task is None and not self.transport.is_closing()
            if not waiting:
                self.started = False
                self._stop_timer()
            elif self.header_timer is None:
                self.header_timer = self.loop.call_later(limits.header_timeout_s, self._headers_late)

        def _headers_late(self):
            self.header_timer = None
            if self.conn.their_state is not h11.IDLE or self.transport.is_closing():
                return
            if not self.started:  # an idle connection (a browser's preconnect): just closed
                self.transport.close()
                return
            self._json_error(408, f"headers: not received within {limits.header_timeout_s:g} s (--header-timeout-s); send the request at once")

        def send_400_response(self, msg: str) -> None:
            self._json_error(400, "request: not valid HTTP/1.1 (a malformed request line or header, headers over 16 KiB, "
                                  "or conflicting Content-Length and Transfer-Encoding); fix the client")

        def _json_error(self, status: int, error: str) -> None:
            from http import HTTPStatus

            body = json.dumps({"error": error}).encode()
            head = (f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
                    "connection: close\r\nx-content-type-options: nosniff\r\n\r\n")
            self.transport.write(head.encode() + body)
            self.transport.close()

    return Protocol


def uvicorn_config(app, limits: ServeLimits, **kw):
    """The uvicorn configuration `serve` runs with (tests run the same): the fair protocol above."""
    import uvicorn

    return uvicorn.Config(app, http=http_protocol(limits), server_header=False, **{"log_level": "warning", **kw})


def display_name(model_dir: str) -> str:
    """The model's last two path parts ('run-3/best'): enough to tell models apart, no absolute path to leak."""
    parts = Path(os.path.normpath(model_dir)).parts
    return "/".join(p for p in parts[-2:] if p not in ("/", "")) or model_dir


def bind(host: str, port: int):
    """The listening socket for host:port, opened before the model loads: a bad port, a host that does not
    resolve or an address in use is one line at once, not a traceback after the load. uvicorn serves this socket."""
    import socket

    if not 0 <= port <= 65535:
        raise BenchError(f"--port {port}: a port is a number from 0 to 65535 (0: any free port)")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as e:
        raise BenchError(f"--host {host!r}: cannot resolve it ({e.args[-1]}); pass an address such as 127.0.0.1, ::1 or 0.0.0.0") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as e:
        sock.close()
        why = "in use by another program" if e.errno == 98 else e.strerror
        raise BenchError(f"cannot listen on {host}:{port}: {why}; pass another --port (or stop what holds it)") from None
    return sock


def serve(model_dir: str, host: str = "127.0.0.1", port: int = 8000, limits: ServeLimits = ServeLimits(),
          micro_batching: bool = True, backend: str = "auto", precision: str = "auto", allowed_hosts: list[str] | None = None,
          sock=None) -> None:
    """Serve `model_dir` on `sock` (from `bind`; bound here when not given) until stopped."""
    import sys

    import uvicorn

    from .onnx_backend import accuracy_line
    from .qa import QuestionAnswerer

    sock = sock or bind(host, port)
    port = sock.getsockname()[1]
    hosts = allowed_hosts or default_allowed_hosts(host)
    if not is_loopback(host):
        print(f"albert-bench: warning: listening on {host}, reachable from other machines; the API has no authentication"
              + ("" if allowed_hosts else " and answers any Host header (set --allowed-hosts to the names clients use)"), file=sys.stderr, flush=True)
    qa = QuestionAnswerer.from_pretrained(model_dir, backend=backend, precision=precision)
    app = create_app(qa, limits, micro_batching, hosts)
    shown = f"[{host}]" if ":" in host else host
    print(f"albert-bench: answering with {display_name(model_dir)} ({qa.backend}, {qa.precision}) on http://{shown}:{port}/  (API docs: /docs)", flush=True)
    if qa.backend == "onnx" and (line := accuracy_line(qa.model.info)):
        print(f"albert-bench: {line}", flush=True)
    uvicorn.Server(uvicorn_config(app, limits)).run(sockets=[sock])
