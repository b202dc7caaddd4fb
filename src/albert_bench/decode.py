"""Model outputs → answers: the best valid span per example over all its windows, or no answer.

A span is valid when start ≤ end, both tokens lie in the context and it is at most `max_answer_length` tokens
long. There is no Python loop over start/end pairs: a running maximum of the end logits over the next
`max_answer_length` tokens gives, for every start at once, its best span's score, so a window's best span is two
argmaxes (`_best_spans`). The n-best lists (`_top_spans`: span scores built only for the k best starts) are
ranked when first read. The whole SQuAD 2.0 dev set decodes in about 0.05 s on 2 cores.

The no-answer score of an example is the minimum over its windows of start[CLS] + end[CLS] (the window that
is most sure an answer exists decides). An example is answered "" when null − best span > `null_threshold`;
``null_odds`` (null − best) is what the official metric's threshold search takes as ``na_probs``.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .data import Example
from .features import Features

_NEG = np.float32(-1e30)
_MAX_ODDS = 1e9  # null_odds when a window set has no valid span at all (JSON has no infinity)


TOP_K = 3  # candidate answers returned by default: `ask`, the Python API, the HTTP API and the page


@dataclass(frozen=True)
class DecodeConfig:
    n_best_size: int = 20
    max_answer_length: int = 30  # tokens
    null_threshold: float = 0.0  # answer "" when null − best span score exceeds this


@dataclass
class Decoded:
    predictions: dict[str, str]  # id → answer text ("" for no answer)
    null_odds: dict[str, float]  # id → null score − best span score
    nbest: Mapping[str, list[dict]]  # id → [{text, start, end, score, probability}], best first; null entry has start None (see NBest)
    spans: dict[str, tuple[int, int]]  # id → character (start, end) of the best span (even when "" was predicted)
    best_text: dict[str, str]  # id → text of the best span, whatever the threshold: what the metric's threshold search needs


def _flatten(logits, lengths: np.ndarray) -> np.ndarray:
    """All windows' logits, unpadded, end to end, as float32 in a new array with one spare slot at the end
    (`logits` is a list of rows or a padded [n, width] array)."""
    out = np.empty(int(lengths.sum()) + 1, np.float32)
    if isinstance(logits, np.ndarray) and logits.ndim == 2:
        out[:-1] = logits[np.arange(logits.shape[1])[None, :] < lengths[:, None]]
    elif len(logits) == len(lengths) and np.array_equal(np.fromiter(map(len, logits), np.int64, len(logits)), lengths):
        np.concatenate(logits, out=out[:-1])  # rows already unpadded (what `infer` returns)
    else:
        np.concatenate([np.asarray(r, dtype=np.float32)[:n] for r, n in zip(logits, lengths)], out=out[:-1])
    return out


def _forward_max(x: np.ndarray, m: int, L: int) -> np.ndarray:
    """r[:, i] = max(x[:, i : i + m]) for i < L (x has at least L + m - 1 columns), by doubling: log2(m) passes."""
    w = 1
    while 2 * w <= m:
        x = np.maximum(x[:, :-w], x[:, w:])  # column i now covers 2w values from i
        w *= 2
    return np.maximum(x[:, :L], x[:, m - w : m - w + L])  # two overlapping windows of w ≥ m/2 cover m


def _best_from(s: np.ndarray, e_pad: np.ndarray, max_len: int):
    """Each start's best span score (start logit + the best end logit within max_len, _NEG when none), and
    the [n, L, m] strided view of the ends each start may take."""
    L = s.shape[1]
    m = min(max_len, L)
    best_from = np.maximum(s + _forward_max(e_pad, m, L), _NEG)
    return best_from, np.lib.stride_tricks.sliding_window_view(e_pad, m, axis=1)


def _largest_first(x: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the k largest values of each row, ties to the lower index, in increasing order.

    `argpartition` alone picks arbitrarily among values tied at the cut; n-best lists must break ties the
    way `_best_spans` does, or the best span and the first n-best entry could differ.
    """
    n, L = x.shape
    if k >= L:
        return np.broadcast_to(np.arange(L), (n, L))
    kth = np.partition(x, L - k, axis=1)[:, L - k, None]  # each row's k-th largest value
    above, tied = x > kth, x == kth
    room = k - above.sum(axis=1, keepdims=True)  # how many of the tied values fit, the first ones
    take = above | (tied & (np.cumsum(tied, axis=1) <= room))
    return np.nonzero(take)[1].reshape(n, k)  # exactly k per row, row-major: increasing within a row


def _top_spans(s: np.ndarray, e_pad: np.ndarray, k: int, max_len: int):
    """Top-k valid spans of each window: (scores [n,k], starts [n,k], ends [n,k]), best first; ties go to
    the earlier start, then the shorter span.

    `s` [n, L] / `e_pad` [n, L + min(max_len, L) - 1] hold _NEG wherever a token may not start/end an answer
    (and in e_pad's extra columns). Slots without a valid span score _NEG.
    """
    n, L = s.shape
    # The k best spans start at no more than k starts, and those are among the k first starts ranked by
    # their best span (start logit + the best end logit within max_len; ties to the earlier start): each
    # start ranked above a top-k span's start has a span ranked above that span. So rank starts by that, a
    # running max over the ends, and build span scores only for those k starts.
    best_from, ends_view = _best_from(s, e_pad, max_len)
    m = ends_view.shape[2]
    ks = min(k, L)
    starts = _largest_first(best_from, ks)
    # band[w, r, j] = s[w, start_r] + e[w, start_r + j]: every span of the chosen starts, from a strided view.
    rows = np.arange(n)[:, None]
    band = np.take_along_axis(s, starts, axis=1)[:, :, None] + ends_view[rows, starts]
    np.maximum(band, _NEG, out=band)  # one "invalid" value, so sums of two invalid slots stay invalid
    flat = band.reshape(n, ks * m)
    # Starts are in increasing order, so a lower flat index is an earlier start, then a shorter span.
    part = _largest_first(flat, min(k, ks * m))
    scores = np.take_along_axis(flat, part, axis=1)
    a = np.take_along_axis(starts, part // m, axis=1)
    b = a + part % m
    order = np.lexsort((b, a, -scores), axis=1)  # higher score first, then earlier start, then shorter
    return (np.take_along_axis(x, order, axis=1) for x in (scores, a, b))


def _best_spans(s: np.ndarray, e_pad: np.ndarray, max_len: int):
    """The best valid span of each window: (scores [n], starts [n], ends [n]); score _NEG when there is none.

    Ties go to the earlier start, then the shorter span, as in `_top_spans`' order, and the score is the
    same float32 sum, so the best span is always the first n-best entry.
    """
    best_from, ends_view = _best_from(s, e_pad, max_len)
    rows = np.arange(len(s))
    a = best_from.argmax(axis=1)  # argmax keeps the first of equal values: the earliest start
    # The end by the float32 sum, not by the end logit alone: two end logits can round to the same sum, and
    # then the shorter span must win, as in `_top_spans`.
    sums = s[rows, a][:, None] + ends_view[rows, a]
    return best_from[rows, a], a, a + sums.argmax(axis=1)


@dataclass
class _Logits:
    """All windows' logits end to end, with _NEG wherever a token may not start/end an answer."""

    S: np.ndarray  # [total + 1]: the last slot is a _NEG that padding positions point at
    E: np.ndarray
    base: np.ndarray  # [n] where each window starts in S/E
    lengths: np.ndarray  # [n]
    max_len: int  # max_answer_length

    def per_window(self, fn, chunk: int = 512) -> list:
        """(rows, fn(s [c, width], e_pad [c, width + m - 1])) for chunks of c windows of similar length.

        Chunks bound the memory of the temporaries (`_top_spans` builds chunk × k × max_answer_length span
        scores) and run in threads: NumPy releases the GIL in the heavy calls.
        """
        n, m = len(self.lengths), self.max_len
        by_len = np.argsort(self.lengths, kind="stable")  # windows of similar length share a chunk: little padding
        pad_at = len(self.S) - 1

        def run(lo: int):
            rows = by_len[lo : lo + chunk]
            width = int(self.lengths[rows].max())
            pos = np.arange(width + min(m, width) - 1)[None, :]
            flat_pos = np.where(pos < self.lengths[rows, None], self.base[rows, None] + pos, pad_at)
            return rows, fn(self.S[flat_pos[:, :width]], self.E[flat_pos])

        workers = min(os.cpu_count() or 1, -(-n // chunk), 8)
        if workers > 1:
            with ThreadPoolExecutor(workers) as pool:
                return list(pool.map(run, range(0, n, chunk)))
        return [run(lo) for lo in range(0, n, chunk)]


def decode(
    examples: list[Example],
    feats: Features,
    start_logits: np.ndarray | list[np.ndarray],
    end_logits: np.ndarray | list[np.ndarray],
    cfg: DecodeConfig = DecodeConfig(),
) -> Decoded:
    """Answers for every example that has at least one window in `feats`.

    Predictions need only each window's best span, found without ranking any others; the n-best lists are
    built on first access (see `NBest`).
    """
    n = len(feats)
    if n == 0:
        return Decoded({}, {}, {}, {}, {})
    lengths = feats.lengths
    base = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    S, E = _flatten(start_logits, lengths), _flatten(end_logits, lengths)
    offs = feats.flat_offsets()
    ctx = offs[:, 0] >= 0
    cls = base + feats.cls_index
    null = (S[cls] + E[cls]).astype(np.float64)
    # _NEG wherever a token may not start/end an answer, and in the spare last slot that padding points at.
    outside = np.append(~ctx, True)
    np.copyto(S, _NEG, where=outside)
    np.copyto(E, _NEG, where=outside)
    logits = _Logits(S, E, base, lengths, cfg.max_answer_length)

    score, a, b = np.full(n, _NEG, np.float32), np.zeros(n, np.int64), np.zeros(n, np.int64)
    for rows, (sc, a_, b_) in logits.per_window(lambda s, e: _best_spans(s, e, logits.max_len)):
        score[rows], a[rows], b[rows] = sc, a_, b_

    # Per example: the smallest null score, and the best span (ties to the earlier window).
    ex = feats.example_index
    n_ex = len(examples)
    null_ex = np.full(n_ex, np.inf)
    np.minimum.at(null_ex, ex, null)
    order = np.lexsort((np.arange(n), -score, ex))
    first = order[np.r_[True, ex[order][1:] != ex[order][:-1]]]  # each present example's best window
    present = ex[first]
    has = score[first] > _NEG / 2
    best_score = np.where(has, score[first].astype(np.float64), -np.inf)
    odds = np.clip(null_ex[present] - best_score, -_MAX_ODDS, _MAX_ODDS)
    char_s, char_e = offs[base[first] + a[first], 0], offs[base[first] + b[first], 1]

    # Plain lists and comprehensions: element-wise NumPy indexing in a Python loop would cost more than all else.
    exs = [examples[i] for i in present.tolist()]
    ids = [e.id for e in exs]
    s_l, e_l, has_l, odds_l = char_s.tolist(), char_e.tolist(), has.tolist(), odds.tolist()
    best = [e.context[i:j] if h else "" for e, i, j, h in zip(exs, s_l, e_l, has_l)]
    thr = cfg.null_threshold
    return Decoded(
        predictions={q: (t if answers(o, thr) else "") for q, t, o in zip(ids, best, odds_l)},
        null_odds=dict(zip(ids, odds_l)),
        nbest=NBest(examples, feats, logits, null_ex, dict(zip(ids, present.tolist())), cfg.n_best_size),
        spans={q: (i, j) for q, i, j, h in zip(ids, s_l, e_l, has_l) if h},
        best_text=dict(zip(ids, best)),
    )


def _nbest_arrays(feats: Features, logits: _Logits, null_ex: np.ndarray, k: int):
    """Every example's n-best spans, best first: (bounds [n_ex + 1], char starts, char ends, scores,
    probabilities) with example i's entries at bounds[i]:bounds[i + 1], and the null entries' probabilities."""
    n = len(feats)
    top_s = np.full((n, k), _NEG, np.float32)
    top_a = np.zeros((n, k), np.int64)
    top_b = np.zeros((n, k), np.int64)
    for rows, (sc, a, b) in logits.per_window(lambda s, e: _top_spans(s, e, k, logits.max_len)):
        kk = sc.shape[1]
        top_s[rows, :kk], top_a[rows, :kk], top_b[rows, :kk] = sc, a, b

    # Merge the windows' candidates per example, best first; ties go to the earlier window, then the earlier
    # start, then the shorter span. A window's own list is already in that order, so only examples with
    # several windows (a few percent on SQuAD) need sorting.
    win = np.repeat(np.arange(n), k)
    cs, ca, cb = top_s.ravel(), top_a.ravel(), top_b.ravel()
    valid = cs > _NEG / 2
    win, cs, ca, cb = win[valid], cs[valid], ca[valid], cb[valid]
    ex_of = feats.example_index[win]
    if np.all(feats.example_index[1:] >= feats.example_index[:-1]):  # windows grouped by example, in order
        multi = np.flatnonzero((np.bincount(feats.example_index) > 1)[ex_of])
        order = np.arange(len(win))
        # The multi-window candidates sit in contiguous runs per example, in example order; sorting them by
        # example first keeps every example's run in place.
        order[multi] = multi[np.lexsort((cb[multi], ca[multi], win[multi], -cs[multi], ex_of[multi]))]
    else:
        order = np.lexsort((cb, ca, win, -cs, ex_of))
    win, cs, ca, cb, ex_of = win[order], cs[order], ca[order], cb[order], ex_of[order]
    offs = feats.flat_offsets()
    char_s, char_e = offs[logits.base[win] + ca, 0], offs[logits.base[win] + cb, 1]
    # Overlapping windows find the same characters: one entry per distinct span of an example, its best score
    # (the first in this order) kept, so the n-best (and the alternatives shown) are k different answers.
    _, first_seen = np.unique(np.stack([ex_of, char_s, char_e], axis=1), axis=0, return_index=True)
    distinct = np.sort(first_seen)
    win, cs, ex_of, char_s, char_e = win[distinct], cs[distinct], ex_of[distinct], char_s[distinct], char_e[distinct]
    first = np.r_[True, ex_of[1:] != ex_of[:-1]]
    group_start = np.maximum.accumulate(np.where(first, np.arange(len(ex_of)), 0))
    keep = np.arange(len(ex_of)) - group_start < k
    cs, ex_of, char_s, char_e = cs[keep].astype(np.float64), ex_of[keep], char_s[keep], char_e[keep]

    # Softmax over each example's n-best and its null entry, shifted by the larger of the two for stability.
    best_ex = np.full(len(null_ex), -np.inf)
    np.maximum.at(best_ex, ex_of, cs)
    top_ex = np.maximum(null_ex, best_ex)
    with np.errstate(invalid="ignore"):  # examples without windows give inf - inf here; they are never read
        exp_c = np.exp(cs - top_ex[ex_of])
        exp_null = np.exp(null_ex - top_ex)
        denom = exp_null.copy()
        np.add.at(denom, ex_of, exp_c)
        prob_c, prob_null = exp_c / denom[ex_of], exp_null / denom
    bounds = np.searchsorted(ex_of, np.arange(len(null_ex) + 1))
    return bounds.tolist(), char_s.tolist(), char_e.tolist(), cs.tolist(), prob_c.tolist(), prob_null


class NBest(Mapping):
    """id → n-best answers [{text, start, end, score, probability}], best first, the null entry among them.

    The spans are ranked for all examples at once on first access (most callers never read an n-best list),
    and each question's dicts are built when read: `dict(nbest)` builds them all (for JSON).
    """

    def __init__(self, examples, feats, logits, null_ex, index, k):
        self._examples, self._index, self._null = examples, index, null_ex
        self._args = (feats, logits, null_ex, k)  # for _nbest_arrays, on first access
        self._arrays = None

    def __getitem__(self, qid: str) -> list[dict]:
        i = self._index[qid]
        if self._arrays is None:
            self._arrays = _nbest_arrays(*self._args)
        bounds, cs, ce, sc, pr, pnull = self._arrays
        ctx, lo, hi = self._examples[i].context, bounds[i], bounds[i + 1]
        c = sc[lo:hi]
        entries = [
            {"text": ctx[s:t], "start": s, "end": t, "score": x, "probability": p}
            for s, t, x, p in zip(cs[lo:hi], ce[lo:hi], c, pr[lo:hi])
        ]
        null = float(self._null[i])
        at = bisect.bisect_right([-x for x in c], -null)  # a span tied with null stays ahead of it
        entries.insert(at, {"text": "", "start": None, "end": None, "score": null, "probability": float(pnull[i])})
        return entries

    def __iter__(self):
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)


def oracle_logits(feats: Features, high: float = 10.0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Logits a perfect model would give: its labels (span, or CLS when the answer is not in the window)."""
    starts, ends = [], []
    for i, ids in enumerate(feats.input_ids):
        s = np.full(len(ids), -high, dtype=np.float32)
        e = s.copy()
        s[feats.start_positions[i]] = high
        e[feats.end_positions[i]] = high
        starts.append(s)
        ends.append(e)
    return starts, ends


def answers(null_odds, threshold):
    """The answer rule: a question is answered (its best span, not "") when its null odds ≤ the threshold.
    Works on floats and on NumPy arrays alike; decoding, the report's curves and `tuned_threshold` all use it."""
    return null_odds <= threshold


def tuned_threshold(m: dict, null_odds: dict) -> float:
    """The no-answer threshold that delivers `best_f1` on dev, away from every dev question's null odds.

    The official search starts from "answer nothing" with threshold 0.0, which is right for probabilities in
    [0, 1]; our null odds are logit differences and may be negative, so when answering nothing wins, a
    threshold below every odds value says so.
    """
    nothing = 100.0 * m.get("NoAns_total", 0) / m["total"]
    if abs(m["best_f1"] - nothing) < 1e-9 and null_odds and min(null_odds.values()) <= m["best_f1_thresh"]:
        return float(min(null_odds.values()) - 1.0)
    # The official search reports the null odds of one dev question as the threshold, so that question sits
    # exactly on it and the last bit of float noise (another backend, another GPU) flips its answer. Halfway to
    # the next larger null odds answers the same dev questions with a margin on both sides.
    t = float(m["best_f1_thresh"])
    above = [v for v in null_odds.values() if v > t]
    return (t + min(above)) / 2 if above else t + 1.0


def oracle_check(examples, tokenizer, fcfg, data) -> dict:
    """Label round trip, and the metric a model reproducing every label would get through the real decoder."""
    from .features import build_features, label_round_trip
    from .metric import squad_v2_evaluate

    feats = build_features(examples, tokenizer, fcfg, progress=True)
    rt = label_round_trip(examples, feats)
    s, e = oracle_logits(feats)
    dec = decode(examples, feats, s, e)
    m = squad_v2_evaluate(data, dec.predictions)
    return {"windows": len(feats), "round_trip": rt, "oracle": {"exact": m["exact"], "f1": m["f1"], "HasAns_exact": m.get("HasAns_exact"), "NoAns_exact": m.get("NoAns_exact")}}
