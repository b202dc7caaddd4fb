"""Write training figures (per-evaluation rows of metrics.jsonl files) into benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/record_training.py benchmarks/gpu_results/run2

reads gpu.txt (the device), albert_speed_metrics.jsonl and minilm_metrics.jsonl from that folder, which
benchmarks/gpu_device_run.sh writes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_section  # noqa: E402

NO_ANSWER_BASELINE = 51.58  # always "" on the odd-indexed half of the dev set (shared/README.md)


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main(folder: str) -> None:
    d = Path(folder)
    machine = " / ".join(line.strip() for line in (d / "gpu.txt").read_text().splitlines() if line.strip())
    a = rows(d / "albert_speed_metrics.jsonl")
    body = ["## ALBERT base training speed on one GPU (`benchmarks/gpu_device_run.sh`, step 1)", "",
            "albert-base-v2 architecture, random init, real tokenizer, 384/128 windows, batch 32, bf16 autocast, fused AdamW,",
            "dynamic padding, through `albert-bench train --init random --max-steps 300` on the even-indexed dev articles.",
            "Windows/s counts training steps only (evaluation and checkpoints excluded). Random weights: the metrics mean nothing.", "",
            "| step | train windows/s | peak GPU memory (GiB) |", "| ---: | ---: | ---: |"]
    body += [f"| {r['step']} | {r['train_windows_per_s']:.0f} | {r.get('peak_memory_gib', float('nan')):.2f} |" for r in a]
    body += ["", "The first row's interval includes CUDA start-up and kernel selection; the last row is the steady state. No",
             "baseline loop ran beside it here, so these are figures, not ratios; the baseline comparison and the levers",
             "(compile, length-grouped batches) belong to the speed issue."]
    write_section("albert_gpu_speed", "\n".join(body), machine)

    m = rows(d / "minilm_metrics.jsonl")
    best = max(m, key=lambda r: r["f1"])
    body = ["## MiniLM-L6 fine-tuned offline on real SQuAD 2.0 data (`benchmarks/minilm_offline.sh`)", "",
            "Train: even-indexed articles of the dev set (local copy), 5,921 questions. Evaluate: odd-indexed articles,",
            f"5,952 questions, where always answering \"no answer\" scores {NO_ANSWER_BASELINE} EM/F1. EM/F1 at threshold 0;",
            "best EM/F1 with the threshold tuned on the same held-out half (as the official script's search).", "",
            "| epoch | step | train loss | eval loss | EM | F1 | HasAns EM | NoAns EM | best EM | best F1 (threshold) | windows/s |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    body += [f"| {r['epoch']:g} | {r['step']} | {r['train_loss']:.3f} | {r['eval_loss']:.3f} | {r['exact']:.2f} | {r['f1']:.2f} | "
             f"{r['HasAns_exact']:.2f} | {r['NoAns_exact']:.2f} | {r['best_exact']:.2f} | {r['best_f1']:.2f} ({r['best_f1_thresh']:.3f}) | "
             f"{r['train_windows_per_s']:.0f} |" for r in m]
    body += ["", f"Best epoch by F1: {best['epoch']:g}: {best['exact']:.2f} EM / {best['f1']:.2f} F1 at threshold 0 "
             f"({best['f1'] - NO_ANSWER_BASELINE:+.2f} F1 over the no-answer baseline); {best['best_f1']:.2f} F1 with the tuned threshold."]
    write_section("minilm_offline", "\n".join(body), machine)


if __name__ == "__main__":
    main(sys.argv[1])
