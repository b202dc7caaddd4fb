"""`albert-bench serve`: the HTTP API and the answer-highlighting web page.

    POST /v1/answer        {"question", "context", "top_k"?} → {"answer", "start", "end", "score", "no_answer", "alternatives", ...}
    POST /v1/answer:batch  {"items": [{"question", "context", "top_k"?}, ...]} → {"results": [...]}
    GET  /healthz          model, device, backend
    GET  /                 the web page;  GET /docs  OpenAPI

Requests that arrive together are answered in one forward pass (micro-batching): a single worker task takes
whatever is queued, up to `max_batch`, and runs the model in a thread, so the event loop never waits on it.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager
from pathlib import Path

from pydantic import BaseModel, Field, field_validator

from .errors import BenchError

PAGE = Path(__file__).with_name("static") / "index.html"


class AnswerRequest(BaseModel):
    question: str = Field(description="the question, in words")
    context: str = Field(description="the passage that may hold the answer")
    top_k: int = Field(3, ge=1, le=20, description="how many candidate answers to return")

    @field_validator("question", "context")
    @classmethod
    def not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty")
        return v

class BatchRequest(BaseModel):
    items: list[AnswerRequest] = Field(min_length=1, max_length=256)

class Alternative(BaseModel):
    text: str
    start: int
    end: int
    score: float
    probability: float

class AnswerResponse(BaseModel):
    answer: str
    start: int | None = Field(description="character offset of the answer in the context as sent; null for no answer")
    end: int | None
    score: float
    no_answer: bool
    no_answer_score: float
    null_odds: float
    threshold: float
    alternatives: list[Alternative]

class BatchResponse(BaseModel):
    results: list[AnswerResponse]



class MicroBatcher:
    """Collects (question, context, top_k) requests and answers them in shared batches."""

    def __init__(self, qa, max_batch: int = 32, enabled: bool = True):
        self.qa, self.max_batch, self.enabled = qa, max_batch if enabled else 1, enabled
        self.queue: asyncio.Queue | None = None
        self.task: asyncio.Task | None = None
        self.batches = 0  # forward passes run: for tests and /healthz

    async def start(self) -> None:
        self.queue = asyncio.Queue()
        self.task = asyncio.create_task(self._worker())

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()

    async def submit(self, items: list[tuple[str, str, int]]) -> list[dict]:
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in items]
        for item, fut in zip(items, futures):
            await self.queue.put((item, fut))
        return list(await asyncio.gather(*futures))

    async def _worker(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self.queue.get()]
            while len(batch) < self.max_batch and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            pairs = [(q, c) for (q, c, _), _ in batch]
            top_k = max(k for (_, _, k), _ in batch)
            try:
                # The model runs in a thread: the event loop keeps accepting requests meanwhile.
                results = await loop.run_in_executor(None, self.qa.answer_batch, pairs, top_k)
                self.batches += 1
                for ((_, _, k), fut), res in zip(batch, results):
                    if not fut.done():
                        fut.set_result({**res, "alternatives": res["alternatives"][:k]})
            except Exception as e:  # a failure answers this batch with an error, and the worker lives on
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(e)


def create_app(qa, max_context_chars: int = 100_000, max_batch: int = 32, micro_batching: bool = True):
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, JSONResponse

    batcher = MicroBatcher(qa, max_batch, micro_batching)

    @asynccontextmanager
    async def lifespan(_app):
        await batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(title="albert-bench", description="Extractive question answering: the answer's span in the passage, or no answer.", lifespan=lifespan)
    app.state.batcher = batcher

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError):
        parts = []
        for err in exc.errors():
            loc = ".".join(str(x) for x in err.get("loc", ()) if x != "body") or "body"
            parts.append(f"{loc}: {err.get('msg', 'invalid')}")
        return JSONResponse(status_code=422, content={"error": "; ".join(parts), "detail": jsonable(exc.errors())})

    def too_long(items: list[AnswerRequest]):
        for i, it in enumerate(items):
            if len(it.context) > max_context_chars:
                where = "context" if len(items) == 1 else f"items.{i}.context"
                return JSONResponse(status_code=413, content={"error": f"{where}: {len(it.context):,} characters; the limit is {max_context_chars:,} (--max-context-chars)"})
        return None

    async def answer_items(items: list[AnswerRequest]):
        try:
            return await batcher.submit([(it.question, it.context, it.top_k) for it in items])
        except BenchError as e:
            return JSONResponse(status_code=422, content={"error": str(e)})

    @app.post("/v1/answer", response_model=AnswerResponse)
    async def answer(req: AnswerRequest):
        if (resp := too_long([req])) is not None:
            return resp
        out = await answer_items([req])
        return out if isinstance(out, JSONResponse) else out[0]

    @app.post("/v1/answer:batch", response_model=BatchResponse)
    async def answer_batch(req: BatchRequest):
        if (resp := too_long(req.items)) is not None:
            return resp
        out = await answer_items(req.items)
        return out if isinstance(out, JSONResponse) else {"results": out}

    started = time.time()

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok", "model": qa.name, "device": str(qa.device), "backend": qa.backend, "precision": qa.precision,
                "micro_batching": micro_batching, "max_batch": batcher.max_batch, "batches": batcher.batches,
                "uptime_s": round(time.time() - started, 1)}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page():
        return PAGE.read_text(encoding="utf-8")

    return app


def jsonable(errors: list[dict]) -> list[dict]:
    """Pydantic error entries with only JSON-friendly values (its `ctx` may hold exception objects)."""
    return [{k: (v if k != "ctx" else {kk: str(vv) for kk, vv in v.items()}) for k, v in e.items() if k in ("type", "loc", "msg", "ctx")} for e in errors]


def serve(model_dir: str, host: str = "127.0.0.1", port: int = 8000, max_context_chars: int = 100_000, max_batch: int = 32, micro_batching: bool = True, backend: str = "torch", precision: str = "fp32") -> None:
    import uvicorn

    from .qa import QuestionAnswerer

    # max_batch bounds the requests gathered per turn; the forward passes inside use the device's batch size.
    qa = QuestionAnswerer.from_pretrained(model_dir, backend=backend, precision=precision)
    app = create_app(qa, max_context_chars, max_batch, micro_batching)
    print(f"albert-bench: answering with {model_dir} ({backend}, {precision}) on http://{host}:{port}/  (API docs: /docs)")
    uvicorn.run(app, host=host, port=port, log_level="warning")
