"""Load check of `albert-bench serve` on loopback: N concurrent clients for a bounded time, with and without
micro-batching. Reports requests/s, p50/p95 latency and errors (which must be 0).

    .venv/bin/python benchmarks/bench_serve.py [--model DIR] [--clients 8] [--seconds 15]

Without --model it serves the albert-base-v2 architecture with random weights (real tokenizer): the speed is
real, the answers are not. Questions and passages are the first dev-set questions.
"""

from __future__ import annotations

import argparse
import asyncio
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

    from albert_bench.features import load_tokenizer
    from albert_bench.model import QAConfig, save_model

    torch.manual_seed(0)
    model = AlbertForQuestionAnswering(AutoConfig.from_pretrained(f"{data}/albert-base-v2"))
    save_model(model, load_tokenizer(f"{data}/albert-base-v2"), out, QAConfig())
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def load(url: str, items: list[dict], clients: int, seconds: float) -> dict:
    latencies, errors, stop_at = [], 0, time.perf_counter() + seconds

    async def client(i: int, c: httpx.AsyncClient):
        nonlocal errors
        k = i
        while time.perf_counter() < stop_at:
            t = time.perf_counter()
            try:
                r = await c.post(url + "/v1/answer", json=items[k % len(items)])
                if r.status_code != 200:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            latencies.append(time.perf_counter() - t)
            k += clients

    t0 = time.perf_counter()
    async with httpx.AsyncClient(timeout=120) as c:
        await asyncio.gather(*(client(i, c) for i in range(clients)))
    wall = time.perf_counter() - t0
    lat = np.array(latencies) * 1000
    return {"requests": len(lat), "rps": len(lat) / wall, "p50": float(np.percentile(lat, 50)), "p95": float(np.percentile(lat, 95)), "errors": errors}


def run_mode(model: str, micro: bool, items, clients, seconds, backend: str = "torch") -> dict:
    port = free_port()
    cmd = [sys.executable, "-m", "albert_bench", "serve", "--model", model, "--port", str(port), "--backend", backend] + ([] if micro else ["--no-micro-batching"])
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "ALBERT_BENCH_QUIET": "1"})
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                httpx.get(url + "/healthz", timeout=1)
                break
            except httpx.HTTPError:
                assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
                time.sleep(0.2)
        httpx.post(url + "/v1/answer", json=items[0], timeout=120)  # warm-up
        before = httpx.get(url + "/healthz").json()["batches"]
        res = asyncio.run(load(url, items, clients, seconds))
        res["forward_passes"] = httpx.get(url + "/healthz").json()["batches"] - before
        return res
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model")
    ap.add_argument("--data", default=os.environ.get("ALBERT_BENCH_DATA", "../shared/data"))
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--questions", type=int, default=64)
    ap.add_argument("--no-onnx", action="store_true", help="skip the ONNX int8 row")
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
    assert all(r["errors"] == 0 for r in rows.values()), rows
    base = rows["one at a time"]["rps"]
    body = ["## `albert-bench serve` under load (`benchmarks/bench_serve.py`)", "",
            f"{args.clients} concurrent clients on loopback for {args.seconds:.0f} s each, {args.questions} dev-set questions in turn; "
            f"model: {'albert-base-v2 architecture, random weights' if not args.model else args.model}, on CPU (PyTorch unless the row says ONNX).", "",
            "| mode | requests | requests/s | p50 ms | p95 ms | worker turns (requests answered together) | errors | vs one at a time |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    body += [f"| {m} | {r['requests']} | {r['rps']:.2f} | {r['p50']:.0f} | {r['p95']:.0f} | {r['forward_passes']} | {r['errors']} | {r['rps'] / base:.2f}× |" for m, r in rows.items()]
    print("\n".join(body))
    write_section("serve_load", "\n".join(body))


if __name__ == "__main__":
    main()
