"""Decoding + scoring the whole SQuAD 2.0 dev set: the vectorised decoder against a per-window Python loop.

    .venv/bin/python benchmarks/bench_decode.py [--data DIR]

The baseline is the usual post-processing loop (Hugging Face's `postprocess_qa_predictions`): per window, the
top-20 start and top-20 end indices, a Python double loop over their pairs with the validity checks, then per
example the sorted n-best list with softmax probabilities and the null score; scored by the official script's
functions. Logits are random but seeded; features are the real ones (albert-base-v2 tokenizer, 384/128).
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import string
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import best_of, write_section  # noqa: E402

from albert_bench.data import load_squad
from albert_bench.decode import DecodeConfig, decode
from albert_bench.features import cached_features
from albert_bench.model import load_tokenizer
from albert_bench.metric import squad_v2_evaluate


def windows_by_example(feats) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for f, ei in enumerate(feats.example_index.tolist()):
        out.setdefault(ei, []).append(f)
    return out


def baseline_best(examples, feats, S, E, cfg: DecodeConfig):
    """The same per-window top-20 × top-20 double loop, keeping only each question's best span and null score."""
    by_example = windows_by_example(feats)
    preds, odds = {}, {}
    for ei, fs in by_example.items():
        ex = examples[ei]
        best, best_span, min_null = -np.inf, None, np.inf
        for f in fs:
            s, e, offs, cls = S[f], E[f], feats.offsets[f], int(feats.cls_index[f])
            min_null = min(min_null, s[cls] + e[cls])
            starts = np.argsort(s)[-1 : -cfg.n_best_size - 1 : -1].tolist()
            ends = np.argsort(e)[-1 : -cfg.n_best_size - 1 : -1].tolist()
            for i in starts:
                for j in ends:
                    if offs[i, 0] < 0 or offs[j, 0] < 0 or j < i or j - i + 1 > cfg.max_answer_length:
                        continue
                    if s[i] + e[j] > best:
                        best, best_span = s[i] + e[j], (int(offs[i, 0]), int(offs[j, 1]))
        diff = float(min_null - best) if best_span else 1e9
        odds[ex.id] = diff
        preds[ex.id] = ex.context[best_span[0] : best_span[1]] if best_span and diff <= cfg.null_threshold else ""
    return preds, odds


def baseline_decode(examples, feats, S, E, cfg: DecodeConfig):
    """Hugging Face's `postprocess_qa_predictions` (SQuAD 2.0 branch), minus its file writing."""
    by_example = windows_by_example(feats)
    preds, odds, nbest = {}, {}, {}
    for ei, fs in by_example.items():
        ex = examples[ei]
        min_null, prelim = None, []
        for f in fs:
            s, e, offs, cls = S[f], E[f], feats.offsets[f], int(feats.cls_index[f])
            null_score = s[cls] + e[cls]
            if min_null is None or null_score < min_null:
                min_null = null_score
            starts = np.argsort(s)[-1 : -cfg.n_best_size - 1 : -1].tolist()
            ends = np.argsort(e)[-1 : -cfg.n_best_size - 1 : -1].tolist()
            for i in starts:
                for j in ends:
                    if offs[i, 0] < 0 or offs[j, 0] < 0 or j < i or j - i + 1 > cfg.max_answer_length:
                        continue
                    prelim.append({"offsets": (int(offs[i, 0]), int(offs[j, 1])), "score": s[i] + e[j], "start_logit": s[i], "end_logit": e[j]})
        spans = sorted(prelim, key=lambda x: x["score"], reverse=True)[: cfg.n_best_size]
        entries = spans + [{"offsets": (0, 0), "score": min_null, "start_logit": min_null, "end_logit": 0.0}]
        for p in entries:
            p["text"] = ex.context[p["offsets"][0] : p["offsets"][1]] if p is not entries[-1] else ""
        scores = np.array([p.pop("score") for p in entries], dtype=np.float64)
        exp = np.exp(scores - scores.max())
        for p, prob in zip(entries, exp / exp.sum()):
            p["probability"] = float(prob)
        nbest[ex.id] = entries
        best = spans[0] if spans else None
        diff = float(min_null - (best["start_logit"] + best["end_logit"])) if best else 1e9
        odds[ex.id] = diff
        preds[ex.id] = best["text"] if best and diff <= cfg.null_threshold else ""
    return preds, odds, nbest


def official_evaluate(dataset, preds, na_probs):
    """squad_v2_evaluate, but with the official script's per-answer scoring loop (no memo, no shortcuts)."""
    from albert_bench import metric

    fast_raw = metric.get_raw_scores
    metric.get_raw_scores = official_raw_scores
    try:
        return metric.squad_v2_evaluate(dataset, preds, na_probs)
    finally:
        metric.get_raw_scores = fast_raw


# evaluate-v2.0.py's scoring functions, verbatim: the baseline scores as the official script does.
def _normalize_answer(s):
    def remove_articles(text):
        return re.sub(re.compile(r"\b(a|an|the)\b", re.UNICODE), " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    return white_space_fix(remove_articles(remove_punc(s.lower())))


def _get_tokens(s):
    return _normalize_answer(s).split() if s else []


def _compute_exact(a_gold, a_pred):
    return int(_normalize_answer(a_gold) == _normalize_answer(a_pred))


def _compute_f1(a_gold, a_pred):
    gold_toks, pred_toks = _get_tokens(a_gold), _get_tokens(a_pred)
    common = collections.Counter(gold_toks) & collections.Counter(pred_toks)
    num_same = sum(common.values())
    if len(gold_toks) == 0 or len(pred_toks) == 0:
        return int(gold_toks == pred_toks)
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(pred_toks)
    recall = 1.0 * num_same / len(gold_toks)
    return (2 * precision * recall) / (precision + recall)


def official_raw_scores(dataset, preds):
    exact, f1 = {}, {}
    for article in dataset:
        for p in article["paragraphs"]:
            for qa in p["qas"]:
                qid = qa["id"]
                golds = [a["text"] for a in qa["answers"] if _normalize_answer(a["text"])] or [""]
                if qid in preds:
                    exact[qid] = max(_compute_exact(a, preds[qid]) for a in golds)
                    f1[qid] = max(_compute_f1(a, preds[qid]) for a in golds)
    return exact, f1


def differ_ids(d, bp, bo) -> list[str]:
    return [k for k in bo if abs(d.null_odds[k] - bo[k]) >= 1e-4 or d.predictions[k] != bp[k]]


def exhaustive_best(s, e, offs, max_len) -> float:
    """The best valid span score of one window by trying every (start, end) pair."""
    best = -np.inf
    ctx = np.flatnonzero(offs[:, 0] >= 0).tolist()
    inside = set(ctx)
    for i in ctx:
        for j in range(i, min(i + max_len, len(s))):
            if j in inside and s[i] + e[j] > best:
                best = float(s[i] + e[j])
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("ALBERT_BENCH_DATA", "../shared/data"))
    ap.add_argument("--peak", type=float, default=6.0, help="logit bump on the labelled tokens (0: pure noise)")
    args = ap.parse_args()
    sq = load_squad(f"{args.data}/squad2/dev-v2.0.json")
    tok = load_tokenizer(f"{args.data}/albert-base-v2")
    feats = cached_features(sq.examples, tok)
    rng = np.random.default_rng(0)
    # Logits shaped like a trained model's: noise, plus a peak on each window's labelled start and end (CLS
    # when the answer is not in the window), so that top-20 × top-20 is the fair baseline it is in practice.
    S = [rng.normal(0, 2, len(x)).astype(np.float32) for x in feats.input_ids]
    E = [rng.normal(0, 2, len(x)).astype(np.float32) for x in feats.input_ids]
    for f in range(len(feats)):
        S[f][feats.start_positions[f]] += args.peak
        E[f][feats.end_positions[f]] += args.peak
    cfg = DecodeConfig()

    def fast_path():  # predictions + null odds (the n-best lists stay arrays until read)
        d = decode(sq.examples, feats, S, E, cfg)
        return d, squad_v2_evaluate(sq.data, d.predictions, d.null_odds)

    def fast_nbest():  # ... and every n-best list built as dicts, as the baseline builds them
        d = decode(sq.examples, feats, S, E, cfg)
        return dict(d.nbest), squad_v2_evaluate(sq.data, d.predictions, d.null_odds)

    def slow_best():
        bp, bo = baseline_best(sq.examples, feats, S, E, cfg)
        return (bp, bo), official_evaluate(sq.data, bp, bo)

    def slow_nbest():
        bp, bo, bn = baseline_decode(sq.examples, feats, S, E, cfg)
        return (bp, bo, bn), official_evaluate(sq.data, bp, bo)

    fast_path()  # warm-up: first-touch page faults and NumPy's lazy setup are not decoding
    fast, (d, m) = best_of(3, fast_path)
    fast_nb, (nbest, _) = best_of(3, fast_nbest)
    slow, ((bp1, bo1), mb1) = best_of(2, slow_best)
    slow_nb, ((bp, bo, bn), mb) = best_of(2, slow_nbest)
    assert bp1 == bp and mb1 == mb and all(abs(bo1[k] - bo[k]) < 1e-6 for k in bo)  # the two baselines decide alike
    n_entries = sum(map(len, nbest.values()))
    skip = set(differ_ids(d, bp, bo))
    first_span = lambda entries: next((x["text"] for x in entries if x["offsets" if "offsets" in x else "start"] not in (None, (0, 0))), None)  # noqa: E731
    assert len(nbest) == len(bn) and all(first_span(nbest[k]) == first_span(bn[k]) for k in bn if k not in skip)

    # The fast metric gives the official loop's numbers exactly, on the same predictions.
    assert squad_v2_evaluate(sq.data, bp, bo) == mb
    same_pred = np.mean([d.predictions[k] == bp[k] for k in bp]) * 100
    same_odds = np.mean([abs(d.null_odds[k] - bo[k]) < 1e-4 for k in bo]) * 100
    # The vectorised decoder searches every valid span; top-20 × top-20 can only miss better ones, never find
    # more. Where the two differ, an exhaustive search over every (start, end) pair must agree with ours.
    assert all(d.null_odds[k] <= bo[k] + 1e-4 for k in bo)
    differ = differ_ids(d, bp, bo)
    windows_of = windows_by_example(feats)
    index_of = {e.id: i for i, e in enumerate(sq.examples)}
    for qid in differ:
        best = max(exhaustive_best(S[f], E[f], feats.offsets[f], cfg.max_answer_length) for f in windows_of[index_of[qid]])
        null = min(S[f][feats.cls_index[f]] + E[f][feats.cls_index[f]] for f in windows_of[index_of[qid]])
        assert abs((null - best) - d.null_odds[qid]) < 1e-4, qid
    body = (
        "## Decoding + scoring the SQuAD 2.0 dev set (`benchmarks/bench_decode.py`)\n\n"
        f"{len(sq.examples):,} questions, {len(feats):,} windows (albert-base-v2 tokenizer, 384/128), seeded logits: noise plus a peak of "
        f"{args.peak:g} on each window's labelled start and end. Best of 3 runs (after a warm-up) against best of 2.\n\n"
        "| decode + score | seconds | speed-up |\n| --- | ---: | ---: |\n"
        f"| predictions + null odds: per-window Python loop, top-20 × top-20, + the official script's scoring (baseline) | {slow:.2f} | 1.0× |\n"
        f"| predictions + null odds: `albert_bench.decode` (best of every valid span, NumPy, 2 threads) + `albert_bench.metric` | {fast:.2f} | **{slow / fast:.1f}×** |\n"
        f"| … and every n-best list as dicts (for nbest.json): Hugging Face's `postprocess_qa_predictions` loop + official scoring (baseline) | {slow_nb:.2f} | 1.0× |\n"
        f"| … and every n-best list as dicts: `albert_bench.decode` + `dict(nbest)` + `albert_bench.metric` | {fast_nb:.2f} | **{slow_nb / fast_nb:.1f}×** |\n\n"
        "Predictions and null odds need only each window's best span: `decode` finds it without ranking any other "
        "span, and ranks the top-20 spans per window (merged per question) only when an n-best list is first read. "
        f"So the first pair of rows is like for like (both sides produce predictions + null odds); the second pair adds "
        f"that ranking and ~{n_entries / 1000:.0f}k n-best dicts on both sides, and building the dicts is most of our "
        f"time there. Against Hugging Face's loop as it stands (it builds every n-best list on the way to the "
        f"predictions), the predictions + null odds path is {slow_nb / fast:.1f}× faster.\n\n"
        f"Same predictions as the baseline: {same_pred:.2f}%; same null odds: {same_odds:.2f}%. The {len(differ)} "
        "questions that differ are those where top-20 × top-20 misses the best valid span: for each of them an "
        "exhaustive search over every (start, end) pair finds exactly this decoder's score (asserted). The fast "
        "metric gives the official script's numbers exactly on the same predictions (asserted). "
        f"EM {m['exact']:.2f} vs {mb['exact']:.2f}.\n"
    )
    print(body)
    write_section("decode", body)


if __name__ == "__main__":
    main()
