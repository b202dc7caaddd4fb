"""Preprocessing the SQuAD 2.0 dev set: per-question pair tokenization against tokenizing each context once.

    .venv/bin/python benchmarks/bench_features.py [--data DIR]

Baseline: the usual `tokenizer(questions, contexts, truncation="only_second", stride=..., return_overflowing_tokens=True)`
in batches of 1,000, then a Python loop for the labels (`features.build_features_reference`). It tokenizes a
paragraph's context once per question. `features.build_features` tokenizes each distinct context once and cuts the
windows itself; the two must give byte-identical input ids, token type ids, offsets and labels (asserted). The
third row reads the same features back from the on-disk cache, as a second run does.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import best_of, write_section  # noqa: E402

from albert_bench.data import load_squad
from albert_bench.features import FeatureConfig, build_features, build_features_reference, cached_features, features_equal, load_tokenizer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("ALBERT_BENCH_DATA", "../shared/data"))
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    sq = load_squad(f"{args.data}/squad2/dev-v2.0.json")
    tok = load_tokenizer(f"{args.data}/albert-base-v2")
    cfg = FeatureConfig()
    ex = sq.examples
    build_features(ex[:200], tok, cfg)  # warm-up of the tokenizer's lazy setup, for both paths

    slow, ref = best_of(args.repeats, lambda: build_features_reference(ex, tok, cfg))
    fast, feats = best_of(args.repeats, lambda: build_features(ex, tok, cfg))
    diff = features_equal(feats, ref)
    assert diff is None, diff
    with tempfile.TemporaryDirectory() as cache:
        cached_features(ex, tok, cfg, cache_dir=cache)  # first run: build and store
        cached, again = best_of(args.repeats, lambda: cached_features(ex, tok, cfg, cache_dir=cache))
        size = sum(p.stat().st_size for p in Path(cache).glob("*.npz"))
    assert features_equal(again, ref) is None
    contexts = len({e.context for e in ex})
    body = (
        "## Preprocessing the SQuAD 2.0 dev set (`benchmarks/bench_features.py`)\n\n"
        f"{len(ex):,} questions over {contexts:,} distinct contexts → {len(feats):,} windows "
        f"(albert-base-v2 tokenizer, {cfg.max_seq_length}/{cfg.doc_stride}, questions ≤ {cfg.max_query_length} tokens). "
        f"Best of {args.repeats}.\n\n"
        "| preprocessing | seconds | speed-up |\n| --- | ---: | ---: |\n"
        f"| per-question pair tokenization with overflow + Python label loop (baseline) | {slow:.2f} | 1.0× |\n"
        f"| each context tokenized once, windows cut from it (`build_features`) | {fast:.2f} | **{slow / fast:.1f}×** |\n"
        f"| second run: features read from the on-disk cache ({size / 2**20:.1f} MiB) | {cached:.2f} | {slow / cached:.0f}× |\n\n"
        "Input ids, token type ids, offsets, example index, start/end labels and CLS index are byte-identical to "
        "the baseline's (asserted here and in `tests/test_features.py` on the whole dev set). The cache key is the "
        "sha256 of the questions, contexts and answers, the tokenizer's full definition and the window settings.\n"
    )
    print(body)
    write_section("features", body)


if __name__ == "__main__":
    main()
