"""CPU answering: questions/s for the ALBERT base architecture, and how much int8 changes a trained model's answers.

    .venv/bin/python benchmarks/bench_answer.py [--questions 96] [--minilm DIR --minilm-dev FILE] [--skip-agreement]

Speed (random weights are fine: the arithmetic is the same): the first N questions of the SQuAD 2.0 dev set,
with albert-base-v2's real tokenizer and config, 384/128 windows, answered
  * the original notebook's way: one question at a time, padded to max_seq_length, fp32, eager, torch.no_grad;
  * one at a time as `ask` does (windows padded only to their own length, inference_mode);
  * all at once as `evaluate` and `serve` (micro-batching) do: length-sorted batches with dynamic padding;
  * the same with bf16 autocast (`--precision bf16`; fast where the CPU has AVX512-BF16 or AMX);
  * the same through ONNX Runtime, fp32 and int8 (`albert-bench export --onnx [--int8]`).
Every row returns the same answer format through the same decoder; the fp32 PyTorch rows' answers must be identical.

Agreement: the tiny ALBERT trained here on synthetic data (real CLI, ~1 minute) and, when given, a MiniLM
fine-tune (`benchmarks/minilm_offline.sh`): predictions of PyTorch bf16 and ONNX fp32/int8 against PyTorch fp32,
and EM/F1 of each.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_section  # noqa: E402

from albert_bench.data import load_squad, only_questions
from albert_bench.decode import decode
from albert_bench.export import export_onnx
from albert_bench.features import build_features_reference
from albert_bench.model import QAConfig, collate, uses_token_type_ids
from albert_bench.qa import QuestionAnswerer, cpu_has_bf16


def quiet(_msg):
    pass


def albert_base_dir(data: str, out: str) -> str:
    from transformers import AutoConfig, AutoModelForQuestionAnswering

    from albert_bench.model import load_tokenizer
    from albert_bench.model import save_model

    torch.manual_seed(0)
    model = AutoModelForQuestionAnswering.from_config(AutoConfig.from_pretrained(f"{data}/albert-base-v2"))
    save_model(model, load_tokenizer(f"{data}/albert-base-v2"), out, QAConfig())
    return out


def notebook_way(qa: QuestionAnswerer, examples) -> dict:
    """One question at a time, every window padded to max_seq_length, fp32, eager, torch.no_grad."""
    model, tok, cfg = qa.model, qa.tokenizer, qa.qa.features
    tt = uses_token_type_ids(tok)
    out = {}
    for ex in examples:
        feats = build_features_reference([ex], tok, cfg)
        batch = collate(feats, np.arange(len(feats)), tok.pad_token_id, tt, labels=False)
        pad = cfg.max_seq_length - batch["input_ids"].shape[1]
        batch = {k: torch.nn.functional.pad(v, (0, pad), value=tok.pad_token_id if k == "input_ids" else 0) for k, v in batch.items()}
        with torch.no_grad():
            o = model(**batch)
        s, e = o.start_logits.numpy(), o.end_logits.numpy()
        n = feats.lengths
        d = decode([ex], feats, [s[i, : n[i]] for i in range(len(n))], [e[i, : n[i]] for i in range(len(n))], qa.decode_config)
        out[ex.id] = d.predictions[ex.id]
    return out


def one_at_a_time(qa: QuestionAnswerer, examples) -> dict:
    return {ex.id: qa.answer(ex.question, ex.context)["answer"] for ex in examples}


def all_at_once(qa: QuestionAnswerer, examples) -> dict:
    res = qa.answer_batch([(ex.question, ex.context) for ex in examples])
    return {ex.id: r["answer"] for ex, r in zip(examples, res)}


def timed(fn, *a):
    t = time.perf_counter()
    out = fn(*a)
    return time.perf_counter() - t, out


def speed(args, work: str) -> str:
    sq = load_squad(f"{args.data}/squad2/dev-v2.0.json")
    examples = sq.examples[: args.questions]
    base = albert_base_dir(args.data, f"{work}/albert-base")
    fp32 = f"{work}/albert-base-onnx"
    int8 = f"{work}/albert-base-onnx-int8"
    export_onnx(base, fp32, log=quiet)
    export_onnx(base, int8, int8=True, log=quiet)
    torch_qa = QuestionAnswerer.from_pretrained(base, device="cpu", batch_size=args.batch_size, precision="fp32")
    onnx_qa = QuestionAnswerer.from_pretrained(fp32, batch_size=args.batch_size, backend="onnx")
    int8_qa = QuestionAnswerer.from_pretrained(int8, batch_size=args.batch_size, backend="onnx")
    windows = len(build_features_reference(examples, torch_qa.tokenizer, torch_qa.qa.features))
    for qa in (torch_qa, onnx_qa, int8_qa):  # warm-up: first-call allocations and kernel selection
        all_at_once(qa, examples[:4])
    big = QuestionAnswerer(torch_qa.model, torch_qa.tokenizer, torch_qa.qa, "cpu", 32)
    bf16 = QuestionAnswerer(torch_qa.model, torch_qa.tokenizer, torch_qa.qa, "cpu", args.batch_size, precision="bf16")
    native = "native bf16 on this CPU" if cpu_has_bf16() else "emulated: this CPU has no native bf16"
    all_at_once(bf16, examples[:4])
    rows = [
        ("the notebook's way: one question at a time, padded to 384, fp32, eager (baseline)", notebook_way, torch_qa),
        ("one question at a time, dynamic padding, inference_mode (`ask`)", one_at_a_time, torch_qa),
        (f"all questions, length-sorted batches of {torch_qa.batch_size} windows, dynamic padding (`evaluate`, `serve`)", all_at_once, torch_qa),
        ("… in batches of 32 windows instead (slower on CPU: activations outgrow the caches)", all_at_once, big),
        (f"… with bf16 autocast (`--precision bf16`; {native})", all_at_once, bf16),
        (f"ONNX Runtime fp32, all questions, batches of {onnx_qa.batch_size} (`--backend onnx`)", all_at_once, onnx_qa),
        ("ONNX Runtime int8, one question at a time (`ask --backend onnx`)", one_at_a_time, int8_qa),
        (f"ONNX Runtime int8, all questions, batches of {int8_qa.batch_size} (`evaluate`/`serve --backend onnx`)", all_at_once, int8_qa),
    ]
    results = []
    for name, fn, qa in rows:
        sec, preds = timed(fn, qa, examples)
        results.append((name, sec, preds))
        print(f"{name}: {len(examples) / sec:.2f} q/s", flush=True)
    base_sec, base_preds = results[0][1], results[0][2]
    for name, _, preds in results[1:4]:  # same model, same arithmetic: the same answers
        assert preds == base_preds, name
    lines = [
        "## CPU answering, ALBERT base (`benchmarks/bench_answer.py`)\n",
        f"The first {len(examples)} questions of the SQuAD 2.0 dev set ({windows} windows, 384/128), albert-base-v2 "
        f"architecture with random weights, {torch.get_num_threads()} PyTorch threads (ONNX Runtime the same). "
        "Every row tokenizes, runs the model and decodes; the fp32 PyTorch rows give identical answers (asserted).\n",
        "| answering | questions/s | speed-up |\n| --- | ---: | ---: |",
    ]
    for name, sec, preds in results:
        agree = "" if preds == base_preds else f" ({np.mean([preds[k] == base_preds[k] for k in preds]) * 100:.0f}% same answers)"
        lines.append(f"| {name}{agree} | {len(examples) / sec:.2f} | **{base_sec / sec:.1f}×** |")
    lines.append("\n(With random weights the answers themselves mean nothing; agreement on trained models is below.)")
    return "\n".join(lines) + "\n"


BARS: list[str] = []  # issue 26's answer bars, one line per model and path


def agreement_rows(name: str, model_dir: str, dev_file: str, work: str, limit: int) -> list[str]:
    from albert_bench.metric import squad_v2_evaluate

    sq = load_squad(dev_file)
    examples = sq.examples[:limit] if limit else sq.examples
    ids = {e.id for e in examples}
    data = only_questions(sq.data, ids)
    out = {}
    runs = (("PyTorch fp32", model_dir), ("PyTorch bf16", model_dir), ("ONNX fp32", f"{work}/{name}-onnx"), ("ONNX int8", f"{work}/{name}-int8"))
    for backend, d in runs:
        if backend.startswith("ONNX"):
            export_onnx(model_dir, d, int8="int8" in backend, log=quiet)
        qa = QuestionAnswerer.from_pretrained(d, device="cpu", backend="onnx" if backend.startswith("ONNX") else "torch",
                                              precision="bf16" if "bf16" in backend else "fp32")
        sec, dec = timed(qa.predict, examples)
        m = squad_v2_evaluate(data, dec.predictions)  # at the model's saved no-answer threshold
        m["best_f1"] = squad_v2_evaluate(data, dec.best_text, dec.null_odds)["best_f1"]  # at the best threshold
        out[backend] = (dec, m, sec)
        print(f"{name} {backend}: EM {m['exact']:.2f} F1 {m['f1']:.2f} best F1 {m['best_f1']:.2f} in {sec:.1f}s", flush=True)
    ref, mref, _ = out["PyTorch fp32"]
    rows = []
    for backend, (dec, m, sec) in out.items():
        same = np.mean([dec.predictions[k] == ref.predictions[k] for k in ref.predictions]) * 100
        same_span = np.mean([dec.best_text[k] == ref.best_text[k] for k in ref.best_text]) * 100
        d_odds = np.mean([abs(dec.null_odds[k] - ref.null_odds[k]) for k in ref.null_odds])
        if backend == "PyTorch bf16":  # issue 26's bars for answers, on a trained model
            BARS.append(f"{name}: bf16 keeps {same:.2f}% of the answers (bar: 99%, {'met' if same >= 99 else 'not met'})")
        if backend == "ONNX int8":
            worst = max(abs(m["exact"] - mref["exact"]), abs(m["f1"] - mref["f1"]))
            BARS.append(f"{name}: int8 EM {m['exact'] - mref['exact']:+.2f}, F1 {m['f1'] - mref['f1']:+.2f} "
                        f"(bar: both within 0.5, {'met' if worst <= 0.5 else 'not met'})")
        rows.append(f"| {name} | {backend} | {len(examples):,} | {same:.2f}% | {same_span:.2f}% | {d_odds:.3f} | "
                    f"{m['exact']:.2f} ({m['exact'] - mref['exact']:+.2f}) | {m['f1']:.2f} ({m['f1'] - mref['f1']:+.2f}) | "
                    f"{m['best_f1']:.2f} ({m['best_f1'] - mref['best_f1']:+.2f}) | {len(examples) / sec:.1f} |")
    return rows


def tiny_trained(args, work: str) -> tuple[str, str]:
    from albert_bench.cli import main as cli
    from albert_bench.synthetic import make_synthetic, tiny_albert_dir

    train, dev = make_synthetic(3000, 400, seed=0)
    Path(f"{work}/train.json").write_text(json.dumps(train))
    Path(f"{work}/dev.json").write_text(json.dumps(dev))
    tiny_albert_dir(f"{work}/tiny", f"{args.data}/albert-base-v2")
    rc = cli(["train", "--model", f"{work}/tiny", "--init", "random", "--train-file", f"{work}/train.json", "--dev-file", f"{work}/dev.json",
              "--epochs", "8", "--lr", "1e-3", "--batch-size", "16", "--max-seq-length", "128", "--doc-stride", "32",
              "--run-dir", f"{work}/tiny-run", "--report-to", "none", "--save-steps", "0"])
    assert rc == 0
    return f"{work}/tiny-run/best", f"{work}/dev.json"


def describe_run(best_dir: str) -> str:
    """One line on how the given model was trained, from its run directory (when it is a run's best/)."""
    run = Path(best_dir).resolve().parent
    try:
        rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if x.strip()]
        cfg = (run / "config.yaml").read_text()
    except OSError:
        return f"MiniLM model: {best_dir}."
    get = lambda k: next((ln.split(":", 1)[1].strip() for ln in cfg.splitlines() if ln.startswith(k + ":")), "?")  # noqa: E731
    best = max(rows, key=lambda r: r["best_f1"])
    return (f"MiniLM model: `{run.name}`, {len(rows)} epoch(s) at lr {get('lr')}, batch {get('batch_size')}, "
            f"{get('max_seq_length')}/{get('doc_stride')} windows, mixed precision {get('mixed_precision')}; on its whole held-out half "
            f"best F1 {best['best_f1']:.2f} at the tuned threshold (HasAns F1 {best.get('HasAns_f1', float('nan')):.2f} at threshold 0).")


def agreement(args, work: str) -> str:
    rows = []
    model, dev = tiny_trained(args, work)
    rows += agreement_rows("tiny ALBERT, synthetic", model, dev, work, 0)
    if args.minilm:
        rows += agreement_rows("MiniLM-L6 fine-tune, SQuAD 2.0 dev odd half", args.minilm, args.minilm_dev, work, args.minilm_questions)
    head = (
        "## bf16 and int8 answers against fp32 on trained models (`benchmarks/bench_answer.py`)\n\n"
        "Same questions through PyTorch fp32, PyTorch with bf16 autocast, ONNX Runtime fp32 and ONNX Runtime int8 "
        "(dynamic quantization of the matrix multiplications); \"same answers\" compares each prediction with PyTorch's, EM/F1 at the "
        "model's saved no-answer threshold; \"same best span\" compares the best span whatever the threshold, and "
        "|Δ null odds| is the mean change of the no-answer score difference; best F1 is at the best threshold. "
        "Differences to PyTorch in brackets.\n\n"
        "| model | backend | questions | same answers as PyTorch | same best span | mean \\|Δ null odds\\| | EM | F1 | best F1 | questions/s |\n"
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
    )
    note = "" if args.minilm else "\nMiniLM: not measured in this run (pass --minilm RUN/best --minilm-dev SPLIT/dev.json).\n"
    if args.minilm:
        note = "\n" + describe_run(args.minilm) + "\n"
    bars = "\nIssue 26's answer bars (PyTorch bf16 and ONNX int8 against PyTorch fp32): " + "; ".join(BARS) + ".\n"
    return head + "\n".join(rows) + "\n" + note + bars


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("ALBERT_BENCH_DATA", "../shared/data"))
    ap.add_argument("--questions", type=int, default=96, help="dev questions answered per row (default 96)")
    ap.add_argument("--batch-size", type=int, default=None, help="windows per forward pass (default: the backend's CPU default)")
    ap.add_argument("--minilm", metavar="DIR", help="a MiniLM fine-tune's best/ directory (benchmarks/minilm_offline.sh)")
    ap.add_argument("--minilm-dev", metavar="FILE", help="its held-out dev file (RUN/split/dev.json)")
    ap.add_argument("--minilm-questions", type=int, default=2000, help="questions of that dev file to compare (0: all)")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-agreement", action="store_true")
    args = ap.parse_args()
    if args.minilm and not args.minilm_dev:
        ap.error("--minilm needs --minilm-dev")
    os.environ.setdefault("ALBERT_BENCH_QUIET", "1")
    with tempfile.TemporaryDirectory() as work:
        if not args.skip_speed:
            body = speed(args, work)
            print(body)
            write_section("answer", body)
        if not args.skip_agreement:
            body = agreement(args, work)
            print(body)
            write_section("int8-agreement", body)


if __name__ == "__main__":
    main()
