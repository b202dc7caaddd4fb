"""`albert-bench predict` on 10k and 100k rows: peak memory (RSS) and rows/s, against answering the whole file at
once (read every row, one `answer_batch`, write the answers: what a script around the Python API would do).

    .venv/bin/python benchmarks/bench_predict.py [--rows 100000]

The model is a tiny random-init ALBERT (real albert-base-v2 tokenizer, 1 layer of 64): memory here is the data
pipeline's, not the weights', which is what streaming has to keep flat. Each run is its own process; its peak RSS
comes from the kernel (wait4's ru_maxrss).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_section  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("ALBERT_BENCH_DATA", REPO.parent / "shared" / "data"))

AT_ONCE = """
import json, sys
from albert_bench.qa import QuestionAnswerer
rows = [json.loads(line) for line in open(sys.argv[2])]
qa = QuestionAnswerer.from_pretrained(sys.argv[1])
answers = qa.answer_batch([(r["question"], r["context"]) for r in rows])
with open(sys.argv[3], "w") as f:
    for r, a in zip(rows, answers):
        f.write(json.dumps({"id": r["id"], **a}) + "\\n")
"""


def make_model(out: str) -> None:
    from albert_bench.model import QAConfig, load_model, save_model
    from albert_bench.synthetic import tiny_albert_dir

    tiny_albert_dir(out + "-cfg", str(DATA / "albert-base-v2"), hidden=64, layers=1, heads=2)
    model, tok = load_model(out + "-cfg", "random")
    save_model(model, tok, out, QAConfig(max_seq_length=256, doc_stride=128))


def make_rows(path: str, n: int) -> None:
    from albert_bench.data import rows_from_squad
    from albert_bench.synthetic import make_synthetic

    _, dev = make_synthetic(10, 2000, seed=3)
    pool = [{k: r[k] for k in ("id", "question", "context")} for r in rows_from_squad(dev["data"])]
    with open(path, "w") as f:
        for i in range(n):
            f.write(json.dumps(dict(pool[i % len(pool)], id=f"q{i}")) + "\n")


def measure(cmd: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of a child process."""
    env = {**os.environ, "ALBERT_BENCH_QUIET": "1", "HF_HUB_OFFLINE": "1"}
    t = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    seconds = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{p.stderr.read().decode()[-2000:]}")
    return seconds, usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    args = ap.parse_args()
    sizes = [args.rows // 10, args.rows]
    with tempfile.TemporaryDirectory() as d:
        model = os.path.join(d, "model")
        make_model(model)
        table = []
        for n in sizes:
            rows = os.path.join(d, f"rows-{n}.jsonl")
            make_rows(rows, n)
            for how in ("at once", "predict"):
                out = os.path.join(d, f"out-{how[0]}-{n}.jsonl")
                if how == "predict":
                    cmd = [sys.executable, "-m", "albert_bench", "predict", "--model", model, "--input", rows, "--output", out]
                else:
                    cmd = [sys.executable, "-c", AT_ONCE, model, rows, out]
                secs, rss = measure(cmd)
                lines = sum(1 for _ in open(out))
                assert lines == n, (how, lines, n)
                table.append((how, n, secs, rss))
                print(f"{how:8s} {n:>7,} rows: {secs:6.1f} s  {n / secs:7.0f} rows/s  peak RSS {rss:7.0f} MiB", flush=True)
    get = {(how, n): (s, r) for how, n, s, r in table}
    small, big = sizes
    lines = [
        "## Batch prediction: memory and speed (`benchmarks/bench_predict.py`)",
        "",
        "Tiny random-init ALBERT (albert-base-v2 tokenizer, 1 layer of 64, 256/128 windows), synthetic passages; each "
        "run a fresh process, peak RSS from the kernel. \"at once\": every row read, one `answer_batch`, answers written.",
        "",
        "| how | rows | seconds | rows/s | peak RSS (MiB) |",
        "|---|---:|---:|---:|---:|",
        *[f"| {how} | {n:,} | {s:.1f} | {n / s:,.0f} | {r:,.0f} |" for how, n, s, r in table],
        "",
        f"`predict` peak RSS, {big:,} rows / {small:,} rows: **{get[('predict', big)][1] / get[('predict', small)][1]:.2f}×** "
        f"(the at-once baseline: {get[('at once', big)][1] / get[('at once', small)][1]:.2f}×); at {big:,} rows `predict` uses "
        f"**{get[('at once', big)][1] / get[('predict', big)][1]:.1f}× less memory** than the baseline at "
        f"{get[('at once', big)][0] / get[('predict', big)][0]:.2f}× its speed.",
    ]
    write_section("bench_predict", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
