"""Calibration: `p_correct`, the probability that the answer returned (a span, or "no answer") is an exact match.

The scores a reader returns are logit sums and window-local softmaxes, not that probability. Two things predict
being right: how far a question's null odds sit from the threshold that decided it (`margin`: far below, the span
won clearly; far above, "no answer" did), and the n-best softmax probability of the answer returned. p_correct is
a logistic function of both (Platt scaling with two inputs: margin and the probability's log-odds), one fit for
answered questions and one for "no answer", by maximum likelihood (torch's L-BFGS). (The margin alone was
measured first: on a model that is often wrong it was worse calibrated than the raw probability, ECE 0.13 against
0.08.)

It is fitted on the even-indexed paragraphs of the dev data (counted through all its articles) and measured on the
odd-indexed ones, never on what it was fitted on: the expected calibration error (ECE: 10 equal-width bins, |accuracy − confidence| weighted by the
share of questions) of the uncalibrated confidence (the n-best softmax `probability` of the returned answer) and of
p_correct, and the mean p_correct beside the exact-match rate. The fit and those figures are stored in the model's
qa_config.json (`calibration`); a model without them answers `p_correct: null`, never an invented number.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from .data import only_questions
from .errors import BenchError
from .metric import get_raw_scores

BINS = 10


@dataclass(frozen=True)
class Calibration:
    answered: tuple[float, float, float]  # (a, c, b): p_correct = sigmoid(a·margin + c·logit(probability) + b) for a span
    no_answer: tuple[float, float, float]  # the same when "no answer" is returned
    fitted_on: int  # questions it was fitted on
    held_out: dict  # figures on questions it was not fitted on: questions, ece_before, ece_after, mean_p_correct, exact_rate
    method: str = "platt-margin-probability"

    def p_correct(self, null_odds: float, threshold: float, probability: float) -> float:
        """For the answer returned at `threshold`: a span when null_odds <= threshold, else "no answer";
        `probability` is that answer's n-best softmax probability."""
        a, c, b = self.answered if null_odds <= threshold else self.no_answer
        return _sigmoid(a * abs(null_odds - threshold) + c * _logit(probability) + b)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw, where: str) -> "Calibration":
        try:
            pairs = [tuple(float(x) for x in raw[k]) for k in ("answered", "no_answer")]
            if any(len(p) != 3 or not all(math.isfinite(x) for x in p) for p in pairs):
                raise ValueError
            return cls(pairs[0], pairs[1], int(raw["fitted_on"]), dict(raw["held_out"]), str(raw.get("method", cls.method)))
        except (TypeError, KeyError, ValueError):
            raise BenchError(f"{where}: 'calibration' is not what `albert-bench calibrate` writes; run it again, or remove the key") from None


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def outcomes(examples, exact: dict, null_odds: dict, confidence: dict, threshold: float) -> list[tuple[bool, float, bool, float]]:
    """Per question (answered?, margin from the threshold, exact match?, uncalibrated confidence)."""
    return [(null_odds[ex.id] <= threshold, abs(null_odds[ex.id] - threshold), bool(exact[ex.id]), confidence[ex.id]) for ex in examples]


def fit_platt(inputs: list[tuple[float, ...]], right: list[bool]) -> tuple[float, ...]:
    """Weights then bias maximizing the likelihood of `right` under sigmoid(w·x + b); zeros when there is nothing."""
    import torch

    if not inputs:
        return (0.0, 0.0, 0.0)
    x = torch.tensor(inputs, dtype=torch.float64)
    y = torch.tensor(right, dtype=torch.float64)
    params = torch.zeros(x.shape[1] + 1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([params], lr=1.0, max_iter=200, line_search_fn="strong_wolfe")

    def nll():
        opt.zero_grad()
        # a little L2 keeps the fit finite when the two classes separate (all right above some margin)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(x @ params[:-1] + params[-1], y) + 1e-4 * (params ** 2).sum()
        loss.backward()
        return loss

    opt.step(nll)
    return tuple(float(v) for v in params.detach())


def reliability(confidence: list[float], right: list[bool], bins: int = BINS) -> list[dict]:
    """Per equal-width bin of confidence (1.0 in the last): its range, questions, mean confidence and exact-match
    rate (the reliability plot's points)."""
    out = []
    for k in range(bins):
        lo, hi = k / bins, (k + 1) / bins
        idx = [i for i, c in enumerate(confidence) if lo <= c < hi or (k == bins - 1 and c == 1.0)]
        if idx:
            out.append({"lo": lo, "hi": hi, "questions": len(idx), "confidence": sum(confidence[i] for i in idx) / len(idx),
                        "exact": sum(right[i] for i in idx) / len(idx)})
    return out


def ece(confidence: list[float], right: list[bool], bins: int = BINS) -> float:
    """Expected calibration error: |accuracy − mean confidence| per bin of `reliability`, weighted by its share."""
    if not confidence:
        return float("nan")
    return sum(b["questions"] / len(confidence) * abs(b["exact"] - b["confidence"]) for b in reliability(confidence, right, bins))


# The fewest questions on each half (fitted, measured): three parameters a side fitted on fewer are noise, and a
# fit stored from 1 held-out question once replaced a model's good one (p_correct a flat 0.5 after it).
MIN_QUESTIONS = 30


def calibrate(examples, data: list, returned: dict, null_odds: dict, confidence: dict, threshold: float, where: str = "the dev set") -> Calibration:
    """Fit on the questions of the even-indexed paragraphs (`data`: SQuAD articles), measure on the odd-indexed."""
    order = {}
    for ex in examples:
        order.setdefault((ex.article_index, ex.paragraph_index), len(order))
    fit_ex = [ex for ex in examples if order[ex.article_index, ex.paragraph_index] % 2 == 0]
    held_ex = [ex for ex in examples if order[ex.article_index, ex.paragraph_index] % 2 == 1]
    if not fit_ex or not held_ex:
        raise BenchError(f"{where}: calibration needs questions on at least two paragraphs (it is fitted on the even-indexed ones "
                         "and measured on the odd-indexed ones); pass a dev set with more paragraphs")
    if min(len(fit_ex), len(held_ex)) < MIN_QUESTIONS:
        raise BenchError(f"{where}: calibration is fitted on {len(fit_ex):,} question(s) and measured on {len(held_ex):,}; with fewer "
                         f"than {MIN_QUESTIONS} on either half its p_correct and figures are noise; pass a larger dev set")
    data = only_questions(data, returned)
    exact, _ = get_raw_scores(data, returned)  # the official metric's exact match of each returned answer
    fit = outcomes(fit_ex, exact, null_odds, confidence, threshold)
    pairs = []
    for answered in (True, False):
        rows = [r for r in fit if r[0] == answered]
        pairs.append(fit_platt([(r[1], _logit(r[3])) for r in rows], [r[2] for r in rows]))
    cal = Calibration(pairs[0], pairs[1], len(fit), {})
    held = outcomes(held_ex, exact, null_odds, confidence, threshold)
    right = [r[2] for r in held]
    p = [cal.p_correct(null_odds[ex.id], threshold, confidence[ex.id]) for ex in held_ex]
    before = [r[3] for r in held]
    figures = {"questions": len(held), "ece_before": ece(before, right), "ece_after": ece(p, right),
               "mean_p_correct": sum(p) / len(p), "exact_rate": sum(right) / len(right),
               "reliability_before": reliability(before, right), "reliability_after": reliability(p, right)}
    return Calibration(cal.answered, cal.no_answer, cal.fitted_on, figures)


def from_decoded(examples, data: list, dec, threshold: float, where: str = "the dev set") -> Calibration:
    """`calibrate` from a decoder's output (`decode.Decoded`) at `threshold`: the answer each question gets there,
    and the n-best softmax probability of that answer as the uncalibrated confidence."""
    returned, confidence = {}, {}
    for ex in examples:
        nbest = dec.nbest[ex.id]
        spans = [e for e in nbest if e["start"] is not None]
        pick = spans[0] if dec.null_odds[ex.id] <= threshold and spans else next(e for e in nbest if e["start"] is None)
        returned[ex.id] = pick["text"] if pick["start"] is not None else ""
        confidence[ex.id] = float(pick.get("probability", 0.0))
    return calibrate(examples, data, returned, dec.null_odds, confidence, threshold, where)


def summary(cal: Calibration) -> str:
    """One line: what the calibration measured on the questions it was not fitted on."""
    h = cal.held_out
    return (f"calibration: on {h['questions']:,} held-out questions, ECE {h['ece_before']:.3f} before (n-best probability) and "
            f"{h['ece_after']:.3f} after; mean p_correct {h['mean_p_correct']:.3f} against an exact-match rate of {h['exact_rate']:.3f}")
