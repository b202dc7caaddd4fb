"""Fairness of `albert-bench serve`: how long one small request waits while other clients misbehave, against the
same request on the idle server, in one run (issue 25's serving cases):

    idle          the small request alone (the baseline);
    leavers       4 clients each send a batch worth --max-request-windows (256 windows) and disconnect after 1 s;
                  then the small request: it should not wait for the work of clients that left;
    junk bodies   4 clients keep sending 8 MB bodies that take seconds to parse (a JSON list of 4 million numbers);
                  the small request's median latency meanwhile: parsing must not stall the event loop.

    .venv/bin/python benchmarks/bench_serve_fairness.py [--model DIR] [--src OTHER_TREE/src] [--seconds 20]

The server runs as `python -m albert_bench serve` in a subprocess; `--src` runs it from another source tree (an
older commit, for a before/after on the same machine) and then only prints. Without --model it serves the
albert-base-v2 architecture with random weights (real tokenizer): speed is real, answers are not.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_section  # noqa: E402
from bench_serve import random_albert, server  # noqa: E402

from albert_bench.data import load_squad


def timed(url: str, item: dict) -> float:
    t = time.perf_counter()
    r = httpx.post(url + "/v1/answer", json=item, timeout=600)
    assert r.status_code == 200, r.text
    return time.perf_counter() - t


async def leavers(url: str, batch: list[dict], clients: int = 4) -> None:
    async def one(c):
        with contextlib.suppress(asyncio.TimeoutError, httpx.HTTPError):
            await asyncio.wait_for(c.post(url + "/v1/answer:batch", json={"items": batch}), 1.0)
    async with httpx.AsyncClient(timeout=600) as c:
        await asyncio.gather(*(one(c) for _ in range(clients)))


def junk_senders(url: str, junk: bytes, stop: list, clients: int = 4):
    async def run():
        async def one(c):
            while not stop:
                with contextlib.suppress(httpx.HTTPError):
                    await c.post(url + "/v1/answer", content=junk, headers={"Content-Type": "application/json"})
        async with httpx.AsyncClient(timeout=600) as c:
            await asyncio.gather(*(one(c) for _ in range(clients)))
    import threading

    t = threading.Thread(target=lambda: asyncio.run(run()), daemon=True)
    t.start()
    return t


def measure(model: str, src: str | None, small: dict, batch: list[dict], seconds: float) -> dict:
    with server(model, env={"PYTHONPATH": src} if src else None) as url:
        timed(url, small)  # warm-up
        idle = statistics.median(timed(url, small) for _ in range(7))
        asyncio.run(leavers(url, batch))
        after_leavers = timed(url, small)
        time.sleep(2)
        stop: list = []
        junk = b"[" + b",".join([b"1"] * 4_000_000) + b"]"  # 8 MB, about 2 s to parse on this CPU
        t = junk_senders(url, junk, stop)
        time.sleep(1)
        lat, end = [], time.perf_counter() + seconds
        while time.perf_counter() < end:
            lat.append(timed(url, small))
        stop.append(1)
        t.join(120)
        return {"idle": idle, "leavers": after_leavers, "junk": statistics.median(lat), "junk_n": len(lat)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model")
    ap.add_argument("--data", default=os.environ.get("ALBERT_BENCH_DATA", "../shared/data"))
    ap.add_argument("--src", help="run the server from this source tree (PYTHONPATH); prints only")
    ap.add_argument("--seconds", type=float, default=20)
    args = ap.parse_args()
    sq = load_squad(f"{args.data}/squad2/dev-v2.0.json")
    small = {"question": sq.examples[0].question, "context": sq.examples[0].context}
    # 64 items of about 4 windows each at 384/128: a batch worth the default --max-request-windows (256)
    long = " ".join(dict.fromkeys(e.context for e in sq.examples))[:2_400]
    batch = [{"question": e.question, "context": long} for e in sq.examples[:64]]
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or random_albert(args.data, os.path.join(tmp, "albert-base-random"))
        r = measure(model, args.src, small, batch, args.seconds)
    print(r)
    if args.src:
        return
    body = ["## Serving fairness (`benchmarks/bench_serve_fairness.py`)", "",
            "One small request (one window) against the same request on the idle server, in one run. Model: "
            f"{'albert-base-v2 architecture, random weights' if not args.model else args.model}, PyTorch on CPU, default limits.", "",
            "| while | small request's latency | vs idle |", "| --- | ---: | ---: |",
            f"| idle (median of 7) | {r['idle'] * 1000:.0f} ms | 1.0× |",
            f"| right after 4 clients sent a 256-window batch each and disconnected after 1 s | {r['leavers'] * 1000:.0f} ms | {r['leavers'] / r['idle']:.1f}× |",
            f"| 4 clients sending 8 MB bodies of junk JSON (median of {r['junk_n']}) | {r['junk'] * 1000:.0f} ms | {r['junk'] / r['idle']:.1f}× |"]
    print("\n".join(body))
    write_section("serve_fairness", "\n".join(body))


if __name__ == "__main__":
    main()
