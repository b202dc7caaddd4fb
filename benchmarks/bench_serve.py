"""Load check of `albert-bench serve` on loopback: N concurrent clients for a bounded time, with and without
micro-batching; then 50 clients, clean and with about 5 % malformed requests mixed in (lone surrogates, an
oversized context, invalid JSON, wrong types). Reports requests/s, p50/p95 latency of the valid requests and
errors among them (which must be 0); with malformed traffic, every malformed request must get its 4xx and every
valid answer must equal the answer the server gives that question alone.

    .venv/bin/python benchmarks/bench_serve.py [--model DIR] [--clients 8] [--seconds 15] [--crowd 50] [--crowd-seconds 30]

Without --model it serves the albert-base-v2 architecture with random weights (real tokenizer): the speed is
real, the answers are not. Questions and passages are the first dev-set questions.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_section  # noqa: E402

from albert_bench.data import load_squad


def random_albert(data: str, out: str) -> str:
    import torch
    from transformers import AlbertForQuestionAnswering, AutoConfig

    from albert_bench.model import load_tokenizer
    from albert_bench.model import QAConfig, save_model

    torch.manual_seed(0)
    model = AlbertForQuestionAnswering(AutoConfig.from_pretrained(f"{data}/albert-base-v2"))
    save_model(model, load_tokenizer(f"{data}/albert-base-v2"), out, QAConfig())
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


MAX_CONTEXT = 20_000  # the server's --max-context-chars in this benchmark: the oversized request exceeds it


def malformed(k: int) -> tuple[bytes, int]:
    """The k-th malformed request body and the status it must get."""
    kinds = [(b'{"question": "What is it?", "context": "ab\\ud800 cd"}', 422),  # a lone surrogate
             (json.dumps({"question": "What?", "context": "x" * (MAX_CONTEXT + 1)}).encode(), 413),
             (b'{"question": "What?", "context": ', 422),  # invalid JSON
             (b'{"question": "What?", "context": "A passage.", "top_k": true}', 422)]  # wrong type
    return kinds[k % len(kinds)]


def key(answer: dict) -> tuple:
    """What must not change when a question shares a batch: the answer, its offsets, the alternatives."""
    return (answer["answer"], answer["start"], answer["end"], answer["no_answer"],
            tuple((a["text"], a["start"], a["end"]) for a in answer["alternatives"]))


async def load(url: str, items: list[dict], clients: int, seconds: float, bad_every: int = 0, solo: list[dict] | None = None) -> dict:
    """`bad_every`: every so many requests is malformed (0: none). `solo`: each item's answer when asked alone."""
    latencies, errors, bad, bad_wrong, differ, score_diff = [], 0, 0, 0, 0, 0.0
    stop_at = time.perf_counter() + seconds

    async def client(i: int, c: httpx.AsyncClient):
        nonlocal errors, bad, bad_wrong, differ, score_diff
        n = i
        while time.perf_counter() < stop_at:
            if bad_every and n % bad_every == 0:
                body, status = malformed(n // bad_every)
                r = await c.post(url + "/v1/answer", content=body, headers={"Content-Type": "application/json"})
                bad += 1
                bad_wrong += r.status_code != status or "error" not in r.json()
                n += clients
                continue
            k = n % len(items)
            t = time.perf_counter()
            try:
                r = await c.post(url + "/v1/answer", json=items[k])
                if r.status_code != 200:
                    errors += 1
                elif solo is not None:
                    got = r.json()
                    differ += key(got) != key(solo[k])
                    score_diff = max(score_diff, abs(got["score"] - solo[k]["score"]))
            except httpx.HTTPError:
                errors += 1
            latencies.append(time.perf_counter() - t)
            n += clients

    t0 = time.perf_counter()
    async with httpx.AsyncClient(timeout=300, limits=httpx.Limits(max_connections=clients + 4)) as c:
        await asyncio.gather(*(client(i, c) for i in range(clients)))
    wall = time.perf_counter() - t0
    lat = np.array(latencies) * 1000
    return {"requests": len(lat), "rps": len(lat) / wall, "p50": float(np.percentile(lat, 50)), "p95": float(np.percentile(lat, 95)),
            "errors": errors, "malformed": bad, "malformed_wrong": bad_wrong, "differ": differ, "score_diff": score_diff}


@contextlib.contextmanager
def server(model: str, *flags: str, env: dict | None = None):
    """`albert-bench serve` in a subprocess on a free loopback port, until it answers /healthz; yields its URL."""
    port = free_port()
    cmd = [sys.executable, "-m", "albert_bench", "serve", "--model", model, "--port", str(port), *flags]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "ALBERT_BENCH_QUIET": "1", **(env or {})})
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                httpx.get(url + "/healthz", timeout=1)
                break
            except httpx.HTTPError:
                assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(30)


def run_mode(model: str, micro: bool, items, clients, seconds, backend: str = "torch", bad_every: int = 0) -> dict:
    flags = ["--backend", backend, "--max-context-chars", str(MAX_CONTEXT)] + ([] if micro else ["--no-micro-batching"])
    with server(model, *flags) as url:
        httpx.post(url + "/v1/answer", json=items[0], timeout=120)  # warm-up
        solo = [httpx.post(url + "/v1/answer", json=it, timeout=120).json() for it in items] if bad_every else None
        before = httpx.get(url + "/healthz").json()["batches"]
        res = asyncio.run(load(url, items, clients, seconds, bad_every, solo))
        res["forward_passes"] = httpx.get(url + "/healthz").json()["batches"] - before
        return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model")
    ap.add_argument("--data", default=os.environ.get("ALBERT_BENCH_DATA", "../shared/data"))
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--questions", type=int, default=64)
    ap.add_argument("--no-onnx", action="store_true", help="skip the ONNX int8 row")
    ap.add_argument("--crowd", type=int, default=50, help="clients in the clean and malformed-traffic runs (default 50)")
    ap.add_argument("--crowd-seconds", type=float, default=30)
    args = ap.parse_args()
    sq = load_squad(f"{args.data}/squad2/dev-v2.0.json")
    items = [{"question": e.question, "context": e.context} for e in sq.examples[: args.questions]]
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or random_albert(args.data, os.path.join(tmp, "albert-base-random"))
        rows = {mode: run_mode(model, mode == "micro-batching", items, args.clients, args.seconds) for mode in ("one at a time", "micro-batching")}
        if not args.no_onnx:
            from albert_bench.export import export_onnx

            int8 = os.path.join(tmp, "int8")
            export_onnx(model, int8, int8=True, log=lambda m: None)
            rows["micro-batching, ONNX Runtime int8 (`--backend onnx`)"] = run_mode(int8, True, items, args.clients, args.seconds, backend="onnx")
        crowd = {f"{args.crowd} clients, clean": run_mode(model, True, items, args.crowd, args.crowd_seconds),
                 f"{args.crowd} clients, 5 % malformed": run_mode(model, True, items, args.crowd, args.crowd_seconds, bad_every=20)}
    assert all(r["errors"] == 0 for r in [*rows.values(), *crowd.values()]), (rows, crowd)
    mixed = crowd[f"{args.crowd} clients, 5 % malformed"]
    assert mixed["malformed"] > 0 and mixed["malformed_wrong"] == 0 and mixed["differ"] == 0, mixed
    base = rows["one at a time"]["rps"]
    body = ["## `albert-bench serve` under load (`benchmarks/bench_serve.py`)", "",
            f"{args.clients} concurrent clients on loopback for {args.seconds:.0f} s each, {args.questions} dev-set questions in turn; "
            f"model: {'albert-base-v2 architecture, random weights' if not args.model else args.model}, on CPU (PyTorch unless the row says ONNX).", "",
            "| mode | requests | requests/s | p50 ms | p95 ms | worker turns (requests answered together) | errors | vs one at a time |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    body += [f"| {m} | {r['requests']} | {r['rps']:.2f} | {r['p50']:.0f} | {r['p95']:.0f} | {r['forward_passes']} | {r['errors']} | {r['rps'] / base:.2f}× |" for m, r in rows.items()]
    body += ["", f"### {args.crowd} clients, with and without malformed requests", "",
             f"Micro-batching, PyTorch, {args.crowd_seconds:.0f} s each. In the second run every 20th request is malformed, in turn: a lone "
             "surrogate in the context (422), a context over --max-context-chars (413), invalid JSON (422), `top_k: true` (422). "
             "Latency and requests/s count the valid requests; each valid answer is compared with the server's answer to that "
             "question asked alone (answer, offsets, alternatives).", "",
             "| run | valid requests | requests/s | p50 ms | p95 ms | errors among valid | malformed sent (wrong status) | valid answers differing from solo (max score diff) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    body += [f"| {m} | {r['requests']} | {r['rps']:.2f} | {r['p50']:.0f} | {r['p95']:.0f} | {r['errors']} | {r['malformed']} ({r['malformed_wrong']}) | "
             + (f"{r['differ']} ({r['score_diff']:.1e})" if m == f"{args.crowd} clients, 5 % malformed" else "not compared") + " |" for m, r in crowd.items()]
    print("\n".join(body))
    write_section("serve_load", "\n".join(body))


if __name__ == "__main__":
    main()
