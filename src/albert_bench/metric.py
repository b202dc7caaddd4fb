"""SQuAD 2.0 exact-match and F1, as defined by the official evaluation script.

This re-implements ``evaluate-v2.0.py`` (Rajpurkar & Jia) as small pure
functions with the same names and the same arithmetic, so the numbers agree
with the official script for any predictions.  ``dataset`` is always the
``"data"`` list of a SQuAD json file and ``preds`` maps question id to the
predicted answer text ("" meaning "no answer").

>>> normalize_answer("The  Cat!")
'cat'
>>> compute_exact("the cat", "A cat.")
1
>>> round(compute_f1("the quick brown fox", "brown fox jumps"), 4)
0.6667
>>> compute_f1("", "")  # an empty prediction is right for an unanswerable question
1
"""

from __future__ import annotations

import collections
import re
import string
from collections.abc import Iterable, Iterator, Mapping

from .errors import BenchError

__all__ = [
    "normalize_answer",
    "get_tokens",
    "compute_exact",
    "compute_f1",
    "make_qid_to_has_ans",
    "get_raw_scores",
    "missing_and_extra",
    "apply_no_ans_threshold",
    "make_eval_dict",
    "merge_eval",
    "find_best_thresh",
    "find_all_best_thresh",
    "squad_v2_evaluate",
]

_DROP_PUNCTUATION = str.maketrans("", "", string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION_BYTES = string.punctuation.encode()
_ARTICLE_BYTES = frozenset((b"a", b"an", b"the"))


def _iter_qas(dataset: Iterable[Mapping]) -> Iterator[Mapping]:
    """Every question dict of a SQuAD ``data`` list, in file order."""
    for article in dataset:
        for paragraph in article["paragraphs"]:
            yield from paragraph["qas"]


def normalize_answer(s: str) -> str:
    """Lower-case, drop ASCII punctuation, drop articles, collapse whitespace.

    The order matters and follows the official script: punctuation goes before
    articles, so "the-end" becomes "theend" and keeps its article-like prefix.
    """
    if s.isascii():
        # Most answers: the same steps on bytes, each one C call. Once only letters and digits are left
        # between the spaces, the regex's \b(a|an|the)\b matches exactly the whole tokens "a", "an", "the";
        # anything else (control characters, str.split's extra separators \x1c-\x1f) takes the regex path.
        toks = s.encode().lower().translate(None, _PUNCTUATION_BYTES).split()
        if b"".join(toks).isalnum():
            return b" ".join([t for t in toks if t not in _ARTICLE_BYTES]).decode()
    s = s.lower()
    s = s.translate(_DROP_PUNCTUATION)  # the official `"".join(ch for ch in s if ch not in exclude)`, in C
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def get_tokens(s: str) -> list[str]:
    """The normalised answer split on whitespace; [] for an empty string."""
    if not s:
        return []
    return normalize_answer(s).split()


def compute_exact(a_gold: str, a_pred: str) -> int:
    """1 if the two answers are equal after normalisation, else 0."""
    return int(normalize_answer(a_gold) == normalize_answer(a_pred))


def compute_f1(a_gold: str, a_pred: str) -> float:
    """Bag-of-tokens F1 between a gold answer and a prediction.

    When either side has no tokens the question is treated as a no-answer
    decision: 1 if both are empty, 0 otherwise (an int, as in the official script).
    """
    return _f1_tokens(get_tokens(a_gold), get_tokens(a_pred))


def _f1_tokens(gold_toks: list[str], pred_toks: list[str], pred_counts: collections.Counter | None = None) -> float:
    if not gold_toks or not pred_toks:
        return int(gold_toks == pred_toks)
    if pred_counts is None:
        pred_counts = collections.Counter(pred_toks)
    elif pred_counts.keys().isdisjoint(gold_toks):  # the common case for a wrong answer: no Counter needed
        return 0
    num_same = sum((collections.Counter(gold_toks) & pred_counts).values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(pred_toks)
    recall = 1.0 * num_same / len(gold_toks)
    return (2 * precision * recall) / (precision + recall)


def make_qid_to_has_ans(dataset: Iterable[Mapping]) -> dict[str, bool]:
    """Question id -> whether it has at least one gold answer, in file order."""
    return {qa["id"]: bool(qa["answers"]) for qa in _iter_qas(dataset)}


def missing_and_extra(dataset: Iterable[Mapping], preds: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """Ids in the dataset without a prediction, and predicted ids not in the dataset.

    The first list is in dataset order, the second in ``preds`` order.  The
    official script prints one line per missing id; callers here decide how to
    report them.
    """
    dataset_ids = [qa["id"] for qa in _iter_qas(dataset)]
    known = set(dataset_ids)
    missing = [qid for qid in dataset_ids if qid not in preds]
    extra = [qid for qid in preds if qid not in known]
    return missing, extra


def get_raw_scores(dataset: Iterable[Mapping], preds: Mapping[str, str]) -> tuple[dict[str, int], dict[str, float]]:
    """Per-question exact and F1 (best over gold answers), for ids present in ``preds``.

    Ids without a prediction are left out of both dicts; use
    :func:`missing_and_extra` to list them.
    """
    exact_scores: dict[str, int] = {}
    f1_scores: dict[str, float] = {}
    # compute_exact / compute_f1 over every gold answer, with each distinct string normalised once: the same
    # numbers (tests check it against those functions) at a fraction of the cost on a whole dev set.
    norm = _Normalized()
    for qa in _iter_qas(dataset):
        qid = qa["id"]
        if qid not in preds:
            continue
        # A gold text that normalises to nothing (e.g. "the") could never be
        # matched by a real answer, so it is dropped; with none left the only
        # correct prediction is the empty string. Duplicates score the same: kept once.
        golds = {g: None for a in qa["answers"] if (g := norm[a["text"]])} or {"": None}
        pred = norm[preds[qid]]
        exact_scores[qid] = int(pred in golds)
        if pred in golds:  # a gold equal to the prediction has F1 1, the most any gold can give
            f1_scores[qid] = 1.0 if pred else 1
        elif not pred:  # no answer against real answers: 0 for each (int(gold_toks == []))
            f1_scores[qid] = 0
        else:
            pred_toks = pred.split()
            counts = collections.Counter(pred_toks)
            f1_scores[qid] = max(_f1_tokens(g.split(), pred_toks, counts) for g in golds)
    return exact_scores, f1_scores


class _Normalized(dict):
    """normalize_answer, remembered per string."""

    def __missing__(self, s: str) -> str:
        v = self[s] = normalize_answer(s)
        return v


def apply_no_ans_threshold(
    scores: Mapping[str, float],
    na_probs: Mapping[str, float],
    qid_to_has_ans: Mapping[str, bool],
    na_prob_thresh: float,
) -> dict[str, float]:
    """Scores after turning every prediction with ``na_prob > na_prob_thresh`` into "no answer".

    Such a question then scores 1.0 if it really is unanswerable and 0.0 otherwise.
    """
    new_scores = {}
    for qid, score in scores.items():
        if na_probs[qid] > na_prob_thresh:
            new_scores[qid] = float(not qid_to_has_ans[qid])
        else:
            new_scores[qid] = score
    return new_scores


def make_eval_dict(
    exact_scores: Mapping[str, float],
    f1_scores: Mapping[str, float],
    qid_list: list[str] | None = None,
) -> collections.OrderedDict:
    """Percent exact and F1 with the question count, over all ids or over ``qid_list``.

    As in the official script an empty ``qid_list`` means "all ids".
    """
    if not qid_list:
        total = len(exact_scores)
        exact_sum = sum(exact_scores.values())
        f1_sum = sum(f1_scores.values())
    else:
        total = len(qid_list)
        exact_sum = sum(exact_scores[k] for k in qid_list)
        f1_sum = sum(f1_scores[k] for k in qid_list)
    return collections.OrderedDict(
        [
            ("exact", 100.0 * exact_sum / total),
            ("f1", 100.0 * f1_sum / total),
            ("total", total),
        ]
    )


def merge_eval(main_eval: dict, new_eval: Mapping, prefix: str) -> None:
    """Copy ``new_eval`` into ``main_eval`` with keys renamed to ``<prefix>_<key>``."""
    for k, v in new_eval.items():
        main_eval[f"{prefix}_{k}"] = v


def find_best_thresh(
    preds: Mapping[str, str],
    scores: Mapping[str, float],
    na_probs: Mapping[str, float],
    qid_to_has_ans: Mapping[str, bool],
) -> tuple[float, float]:
    """The best percent score reachable by one no-answer threshold, and that threshold.

    The sweep starts from "answer nothing" (every unanswerable question right)
    and switches questions to their predicted answer in increasing ``na_prob``.
    """
    # Counted over the scored ids, as the division at the end is. The official
    # script counts the whole dataset, which differs only when predictions are
    # missing, and then gives percentages above 100 (2420.0 for 10 of 400).
    num_no_ans = sum(1 for k in scores if not qid_to_has_ans[k])
    cur_score = num_no_ans
    best_score = cur_score
    best_thresh = 0.0
    # sorted() is stable, so equal na_probs keep their insertion order; the
    # running score (and so the reported best and its threshold) can depend on
    # that order, and matching the official numbers requires the same order.
    qid_list = sorted(na_probs, key=lambda k: na_probs[k])
    for qid in qid_list:
        if qid not in scores:
            continue
        if qid_to_has_ans[qid]:
            diff = scores[qid]
        else:
            # Answering an unanswerable question loses the point it had as a
            # no-answer, unless the "answer" is itself empty.
            diff = -1 if preds[qid] else 0
        cur_score += diff
        # Strictly greater: on a tie the lower threshold found first is kept.
        if cur_score > best_score:
            best_score = cur_score
            best_thresh = na_probs[qid]
    return 100.0 * best_score / len(scores), best_thresh


def find_all_best_thresh(
    main_eval: dict,
    preds: Mapping[str, str],
    exact_raw: Mapping[str, float],
    f1_raw: Mapping[str, float],
    na_probs: Mapping[str, float],
    qid_to_has_ans: Mapping[str, bool],
) -> None:
    """Add best_exact, best_exact_thresh, best_f1, best_f1_thresh to ``main_eval``."""
    best_exact, exact_thresh = find_best_thresh(preds, exact_raw, na_probs, qid_to_has_ans)
    best_f1, f1_thresh = find_best_thresh(preds, f1_raw, na_probs, qid_to_has_ans)
    main_eval["best_exact"] = best_exact
    main_eval["best_exact_thresh"] = exact_thresh
    main_eval["best_f1"] = best_f1
    main_eval["best_f1_thresh"] = f1_thresh


def squad_v2_evaluate(
    dataset: list[Mapping],
    preds: Mapping[str, str],
    na_probs: Mapping[str, float] | None = None,
    na_prob_thresh: float = 1.0,
) -> dict:
    """The official script's ``main``: the full SQuAD 2.0 result dict.

    Keys, in order: exact, f1, total, HasAns_exact, HasAns_f1, HasAns_total,
    NoAns_exact, NoAns_f1, NoAns_total, and, only when ``na_probs`` is given,
    best_exact, best_exact_thresh, best_f1, best_f1_thresh.  Without
    ``na_probs`` every no-answer probability is 0.0, as in the official script.

    Questions without a prediction are skipped and predictions for unknown ids
    are ignored.  One deliberate deviation: the official script raises
    KeyError for the HasAns/NoAns breakdowns when a prediction is missing;
    here those subsets, and the best_* sweep's starting count, are restricted
    to the questions that were scored (and a subset with no scored question is
    left out).  With every id predicted the results are identical.

    Raises :class:`BenchError` when no question was scored, or when
    ``na_probs`` lacks an id that was scored.
    """
    na_probs_given = na_probs is not None
    if na_probs is None:
        na_probs = {k: 0.0 for k in preds}

    qid_to_has_ans = make_qid_to_has_ans(dataset)
    exact_raw, f1_raw = get_raw_scores(dataset, preds)
    if not exact_raw:
        raise BenchError(
            f"no prediction matches any of the {len(qid_to_has_ans)} question ids in the dataset; "
            "check that the predictions belong to this dataset"
        )
    lacking = [qid for qid in exact_raw if qid not in na_probs]
    if lacking:
        raise BenchError(
            f"no-answer probabilities are missing for {len(lacking)} predicted question id(s), "
            f"e.g. {lacking[0]!r}"
        )

    has_ans_qids = [k for k, v in qid_to_has_ans.items() if v and k in exact_raw]
    no_ans_qids = [k for k, v in qid_to_has_ans.items() if not v and k in exact_raw]

    exact_thresh = apply_no_ans_threshold(exact_raw, na_probs, qid_to_has_ans, na_prob_thresh)
    f1_thresh = apply_no_ans_threshold(f1_raw, na_probs, qid_to_has_ans, na_prob_thresh)
    out_eval = make_eval_dict(exact_thresh, f1_thresh)
    # The non-empty checks also matter for correctness: make_eval_dict treats
    # an empty qid_list as "all ids".
    if has_ans_qids:
        merge_eval(out_eval, make_eval_dict(exact_thresh, f1_thresh, qid_list=has_ans_qids), "HasAns")
    if no_ans_qids:
        merge_eval(out_eval, make_eval_dict(exact_thresh, f1_thresh, qid_list=no_ans_qids), "NoAns")
    if na_probs_given:
        find_all_best_thresh(out_eval, preds, exact_raw, f1_raw, na_probs, qid_to_has_ans)
    return dict(out_eval)
