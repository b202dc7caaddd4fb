"""Windows per second when answering on this CPU, by batch size, backend and model size: what `evaluate` and
`predict` default to on CPU (`qa.default_batch_size`) is read off this table.

    .venv/bin/python benchmarks/bench_batch.py [--windows 192] [--no-write]

Rows: the quickstart's tiny ALBERT (the `data synth --tiny-model` config: hidden 128, 2 layers) at 128/32 windows
and ALBERT base (random weights: the same cost per token) at 384/128, both on real dev questions, PyTorch fp32 and
ONNX Runtime fp32; batch sizes 1, 4, 16, 64. Windows run shortest first, as `infer` runs them.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
from _results import machine, write_section  # noqa: E402

DATA = os.environ.get("ALBERT_BENCH_DATA", os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))
SIZES = (1, 4, 16, 64)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--windows", type=int, default=192)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()

    import torch
    from transformers import AlbertConfig, AlbertForQuestionAnswering

    from albert_bench.data import load_squad
    from albert_bench.export import export_onnx
    from albert_bench.features import FeatureConfig, build_features
    from albert_bench.model import QAConfig, infer, load_tokenizer, save_model
    from albert_bench.synthetic import tiny_albert_dir

    tok = load_tokenizer(os.path.join(DATA, "albert-base-v2"))
    scratch = tempfile.TemporaryDirectory()  # the tiny config, removed at the end
    tiny_dir = tiny_albert_dir(scratch.name, os.path.join(DATA, "albert-base-v2"))
    dev = load_squad(os.path.join(DATA, "squad2", "dev-v2.0.json"))
    rows = []
    models = {
        "tiny ALBERT (quickstart), 128/32": (AlbertConfig.from_pretrained(tiny_dir), FeatureConfig(128, 32, 64)),
        "ALBERT base (random weights), 384/128": (AlbertConfig.from_pretrained(os.path.join(DATA, "albert-base-v2")), FeatureConfig(384, 128, 64)),
    }
    for name, (config, fc) in models.items():
        torch.manual_seed(0)
        model = AlbertForQuestionAnswering(config).eval()
        feats = build_features(dev.examples[: args.windows], tok, fc)  # about that many windows, or a few more
        n = len(feats)
        with tempfile.TemporaryDirectory() as tmp:
            save_model(model, tok, os.path.join(tmp, "m"), QAConfig(max_seq_length=fc.max_seq_length, doc_stride=fc.doc_stride))
            export_onnx(os.path.join(tmp, "m"), os.path.join(tmp, "onnx"), log=lambda m: None)
            from albert_bench.qa import QuestionAnswerer

            onnx_model = QuestionAnswerer.from_pretrained(os.path.join(tmp, "onnx"), backend="onnx").model
            for backend, m in (("torch fp32", model), ("onnx fp32", onnx_model)):
                infer(m, tok, feats, batch_size=4)  # warm-up
                rates = {}
                for b in SIZES:
                    t = time.perf_counter()
                    infer(m, tok, feats, batch_size=b)
                    rates[b] = n / (time.perf_counter() - t)
                best = max(rates, key=rates.get)
                rows.append([name, backend, str(n)] + [f"{rates[b]:.1f}" for b in SIZES] + [str(best)])
                print(rows[-1], flush=True)
    head = ["model, windows", "backend", "windows"] + [f"batch {b} (win/s)" for b in SIZES] + ["fastest"]
    table = "\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(r) + " |" for r in rows])
    text = (f"Command: `.venv/bin/python benchmarks/bench_batch.py --windows {args.windows}`. {machine()}\n\n{table}\n\n"
            "`qa.default_batch_size` on CPU follows this table: large batches for a small model (per-call overhead "
            "dominates), small ones for a base-size model (activations leave the caches). ONNX Runtime on the base model: "
            "batch 1 and 4 are within noise from run to run (5.3 against 4.7 windows/s in an earlier run of this script); "
            "the default stays 1.")
    print(text)
    if not args.no_write:
        write_section("Batch size when answering on CPU", text)


if __name__ == "__main__":
    main()
