"""Model outputs → answers: the best valid span per example over all its windows, or no answer.

A span is valid when start ≤ end, both tokens lie in the context and it is at most `max_answer_length` tokens
long. All valid spans of a window are scored at once as a band matrix (start logit + end logit for every end
within `max_answer_length` of each start), so there is no Python loop over start/end pairs: the whole
SQuAD 2.0 dev set decodes in well under a second.

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
    """All windows' logits, unpadded, end to end (a list of rows or a padded [n, width] array)."""
    if isinstance(logits, np.ndarray) and logits.ndim == 2:
        return logits[np.arange(logits.shape[1])[None, :] < lengths[:, None]].astype(np.float32)
    if all(isinstance(r, np.ndarray) and r.ndim == 1 for r in logits) and list(map(len, logits)) == lengths.tolist():
        return np.concatenate(logits).astype(np.float32, copy=False)  # rows already unpadded (what `infer` returns)
    return np.concatenate([np.asarray(r, dtype=np.float32)[:n] for r, n in zip(logits, lengths)])


def _forward_max(x: np.ndarray, m: int, L: int) -> np.ndarray:
    """r[:, i] = max(x[:, i : i + m]) for i < L (x has at least L + m - 1 columns), by doubling: log2(m) passes."""
    w = 1
    while 2 * w <= m:
        x = np.maximum(x[:, :-w], x[:, w:])  # column i now covers 2w values from i
        w *= 2
    return np.maximum(x[:, :L], x[:, m - w : m - w + L])  # two overlapping windows of w ≥ m/2 cover m


def _top_spans(s: np.ndarray, e_pad: np.ndarray, k: int, max_len: int):
    """Top-k valid spans of each window: (scores [n,k], starts [n,k], ends [n,k]), best first.

    `s` [n, L] / `e_pad` [n, L + min(max_len, L) - 1] hold _NEG wherever a token may not start/end an answer
    (and in e_pad's extra columns). Slots without a valid span score _NEG.
    """
    n, L = s.shape
    m = min(max_len, L)
    # The k best spans start at no more than k starts, and those are among the k best by their best span
    # (start logit + the best end logit within max_len): rank starts by that, a running max over the ends,
    # and build span scores only for those k starts.
    best_from = np.maximum(s + _forward_max(e_pad, m, L), _NEG)
    ks = min(k, L)
    starts = np.argpartition(best_from, L - ks, axis=1)[:, L - ks :]  # the ks largest, in no order
    # band[w, r, j] = s[w, start_r] + e[w, start_r + j]: every span of the chosen starts, from a strided view.
    ends_view = np.lib.stride_tricks.sliding_window_view(e_pad, m, axis=1)
    rows = np.arange(n)[:, None]
    band = np.take_along_axis(s, starts, axis=1)[:, :, None] + ends_view[rows, starts]
    np.maximum(band, _NEG, out=band)  # one "invalid" value, so sums of two invalid slots stay invalid
    flat = band.reshape(n, ks * m)
    kq = min(k, ks * m)
    part = np.argpartition(flat, ks * m - kq, axis=1)[:, ks * m - kq :]
    scores = np.take_along_axis(flat, part, axis=1)
    a = np.take_along_axis(starts, part // m, axis=1)
    b = a + part % m
    order = np.lexsort((b, a, -scores), axis=1)  # higher score first, then earlier start, then shorter
    return (np.take_along_axis(x, order, axis=1) for x in (scores, a, b))


def decode(
    examples: list[Example],
    feats: Features,
    start_logits: np.ndarray | list[np.ndarray],
    end_logits: np.ndarray | list[np.ndarray],
    cfg: DecodeConfig = DecodeConfig(),
    chunk: int = 512,
) -> Decoded:
    """Answers for every example that has at least one window in `feats`."""
    n, k = len(feats), cfg.n_best_size
    if n == 0:
        return Decoded({}, {}, {}, {}, {})
    lengths = feats.lengths
    base = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    S, E = _flatten(start_logits, lengths), _flatten(end_logits, lengths)
    offs = feats.flat_offsets()
    ctx = offs[:, 0] >= 0
    cls = base + feats.cls_index
    null = S[cls] + E[cls]
    # Logits where a token may start/end an answer, _NEG elsewhere, and one _NEG at the end that padding
    # positions point at: each chunk is then two plain gathers.
    pad_at = len(S)
    S_ok = np.append(np.where(ctx, S, _NEG), _NEG).astype(np.float32, copy=False)
    E_ok = np.append(np.where(ctx, E, _NEG), _NEG).astype(np.float32, copy=False)

    top_s = np.full((n, k), _NEG, np.float32)
    top_a = np.zeros((n, k), np.int64)
    top_b = np.zeros((n, k), np.int64)
    by_len = np.argsort(lengths, kind="stable")  # windows of similar length share a chunk: little padding

    def run_chunk(lo: int) -> None:  # chunks bound the band matrix's memory (chunk × width × max_answer_length)
        rows = by_len[lo : lo + chunk]
        width = int(lengths[rows].max())
        m = min(cfg.max_answer_length, width)
        pos = np.arange(width + m - 1)[None, :]
        flat_pos = np.where(pos < lengths[rows, None], base[rows, None] + pos, pad_at)
        sc, a, b = _top_spans(S_ok[flat_pos[:, :width]], E_ok[flat_pos], k, cfg.max_answer_length)
        kk = sc.shape[1]
        top_s[rows, :kk], top_a[rows, :kk], top_b[rows, :kk] = sc, a, b

    # NumPy releases the GIL in the heavy calls, so chunks run in parallel threads; each writes its own rows.
    workers = min(os.cpu_count() or 1, -(-n // chunk), 8)
    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(run_chunk, range(0, n, chunk)))
    else:
        for lo in range(0, n, chunk):
            run_chunk(lo)

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
    first = np.r_[True, ex_of[1:] != ex_of[:-1]]
    group_start = np.maximum.accumulate(np.where(first, np.arange(len(ex_of)), 0))
    keep = np.arange(len(ex_of)) - group_start < k
    win, cs, ex_of = win[keep], cs[keep].astype(np.float64), ex_of[keep]
    char_s, char_e = offs[base[win] + ca[keep], 0], offs[base[win] + cb[keep], 1]

    n_ex = len(examples)
    null_ex = np.full(n_ex, np.inf)
    np.minimum.at(null_ex, feats.example_index, null.astype(np.float64))
    best_ex = np.full(n_ex, -np.inf)
    np.maximum.at(best_ex, ex_of, cs)
    odds_ex = np.clip(null_ex - best_ex, -_MAX_ODDS, _MAX_ODDS)
    # Softmax over each example's n-best and its null entry, shifted by the larger of the two for stability.
    top_ex = np.maximum(null_ex, best_ex)
    with np.errstate(invalid="ignore"):  # examples without windows give inf - inf here; they are never read
        exp_c = np.exp(cs - top_ex[ex_of])
        exp_null = np.exp(null_ex - top_ex)
        denom = exp_null.copy()
        np.add.at(denom, ex_of, exp_c)
        prob_c, prob_null = exp_c / denom[ex_of], exp_null / denom

    bounds = np.searchsorted(ex_of, np.arange(n_ex + 1))
    present = np.unique(feats.example_index)
    lo, has = bounds[present], bounds[present + 1] > bounds[present]
    first = np.where(has, lo, 0)
    # Plain lists and comprehensions: element-wise NumPy indexing in a Python loop would cost more than all else.
    s_first, e_first = char_s[first].tolist() if len(char_s) else [0] * len(present), char_e[first].tolist() if len(char_e) else [0] * len(present)
    exs = [examples[i] for i in present.tolist()]
    ids = [ex.id for ex in exs]
    has_l, odds = has.tolist(), odds_ex[present].tolist()
    best = [ex.context[a:b] if h else "" for ex, a, b, h in zip(exs, s_first, e_first, has_l)]
    nbest = NBest(examples, bounds.tolist(), char_s, char_e, cs, prob_c, null_ex, prob_null)
    nbest._index = dict(zip(ids, present.tolist()))
    thr = cfg.null_threshold
    return Decoded(
        predictions={k: (b if o <= thr else "") for k, b, o in zip(ids, best, odds)},
        null_odds=dict(zip(ids, odds)),
        nbest=nbest,
        spans={k: (a, b) for k, a, b, h in zip(ids, s_first, e_first, has_l) if h},
        best_text=dict(zip(ids, best)),
    )


class NBest(Mapping):
    """id → n-best answers [{text, start, end, score, probability}], best first, the null entry among them.

    Built per question on access: most callers read one question's list or none, and building ~20 dicts for
    every question of a dev set would cost more than decoding it. `dict(nbest)` builds them all (for JSON).
    """

    def __init__(self, examples, bounds, char_s, char_e, scores, probs, null, prob_null):
        self._examples, self._bounds, self._index = examples, bounds, {}
        self._s, self._e, self._c, self._p = char_s, char_e, scores, probs
        self._null, self._pnull = null, prob_null

    def __getitem__(self, qid: str) -> list[dict]:
        i = self._index[qid]
        if not isinstance(self._s, list):  # Python lists once: cheaper than a NumPy slice per question
            self._s, self._e, self._c, self._p = (x.tolist() for x in (self._s, self._e, self._c, self._p))
        ctx, lo, hi = self._examples[i].context, self._bounds[i], self._bounds[i + 1]
        c = self._c[lo:hi]
        entries = [
            {"text": ctx[s:t], "start": s, "end": t, "score": sc, "probability": p}
            for s, t, sc, p in zip(self._s[lo:hi], self._e[lo:hi], c, self._p[lo:hi])
        ]
        null = float(self._null[i])
        at = bisect.bisect_right([-x for x in c], -null)  # a span tied with null stays ahead of it
        entries.insert(at, {"text": "", "start": None, "end": None, "score": null, "probability": float(self._pnull[i])})
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
