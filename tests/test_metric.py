"""Tests for albert_bench.metric, the SQuAD 2.0 evaluation.

Expected values are worked out by hand in the comments next to them, so a
test failing means the arithmetic differs from the official script's definition.
"""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from albert_bench.errors import BenchError
from albert_bench.metric import (
    apply_no_ans_threshold,
    compute_exact,
    compute_f1,
    find_all_best_thresh,
    find_best_thresh,
    get_raw_scores,
    get_tokens,
    make_eval_dict,
    make_qid_to_has_ans,
    merge_eval,
    missing_and_extra,
    normalize_answer,
    squad_v2_evaluate,
)

BASE_KEYS = [
    "exact", "f1", "total",
    "HasAns_exact", "HasAns_f1", "HasAns_total",
    "NoAns_exact", "NoAns_f1", "NoAns_total",
]
BEST_KEYS = ["best_exact", "best_exact_thresh", "best_f1", "best_f1_thresh"]


def make_dataset(questions: list[tuple[str, list[str]]]) -> list[dict]:
    """A SQuAD ``data`` list with one article and one paragraph holding (id, gold texts) questions."""
    qas = [
        {"id": qid, "question": "?", "answers": [{"text": t, "answer_start": 0} for t in golds]}
        for qid, golds in questions
    ]
    return [{"title": "t", "paragraphs": [{"context": "c", "qas": qas}]}]


def one_question_scores(golds: list[str], pred: str) -> tuple[float, float]:
    exact, f1 = get_raw_scores(make_dataset([("q", golds)]), {"q": pred})
    return exact["q"], f1["q"]


# --- normalisation -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The  Cat!", "cat"),
        ("the cat", "cat"),
        ("An apple, a pear", "apple pear"),
        ("cat the dog", "cat dog"),
        ("theater", "theater"),  # articles only as whole words
        ("The-end", "theend"),  # punctuation goes first, so no word boundary is left
        ("a.n", ""),  # ... and removing it can create an article
        ("  big \t\n dog ", "big dog"),
        ("U.S.A.", "usa"),
        ("«Café»", "«café»"),  # only ASCII punctuation is removed
        ("Straße", "straße"),  # lower(), not casefold()
        ("", ""),
    ],
)
def test_normalize_answer(text, expected):
    assert normalize_answer(text) == expected


def test_get_tokens():
    assert get_tokens("") == []
    assert get_tokens("The") == []
    assert get_tokens("the Quick, brown fox") == ["quick", "brown", "fox"]


# --- exact match ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("gold", "pred", "expected"),
    [
        ("the cat", "a cat", 1),
        ("cat", "Cat.", 1),
        ("rock 'n' roll", "rock n roll", 1),
        ("big dog", " big   dog\n", 1),
        ("Café", "café", 1),
        ("cafe", "café", 0),  # no accent stripping
        ("naïve.", "Naïve", 1),
        ("café", "«café»", 0),
        ("straße", "strasse", 0),
        ("cat", "cats", 0),
        ("", "", 1),  # empty prediction for an unanswerable question
        ("", "the", 1),  # "the" normalises to nothing as well
        ("", "cat", 0),
        ("cat", "", 0),
    ],
)
def test_compute_exact(gold, pred, expected):
    assert compute_exact(gold, pred) == expected


# --- F1 ------------------------------------------------------------------------------


def test_f1_partial_overlap():
    # gold [quick, brown, fox], pred [brown, fox, jumps]: 2 shared -> p = r = 2/3
    assert compute_f1("the quick brown fox", "brown fox jumps") == pytest.approx(2 / 3, abs=1e-12)


def test_f1_precision_and_recall_differ():
    # gold [denver, broncos], pred [broncos]: p = 1, r = 1/2 -> f1 = 2/3
    assert compute_f1("Denver Broncos", "the Broncos") == pytest.approx(2 / 3, abs=1e-12)
    # gold [w, x, y, z], pred [x]: p = 1, r = 1/4 -> f1 = 2 * 1/4 / (5/4) = 0.4
    assert compute_f1("w x y z", "x") == pytest.approx(0.4, abs=1e-12)


def test_f1_counts_duplicate_tokens_once_per_occurrence():
    # gold [cat, dog], pred [cat, cat, cat]: only one "cat" is shared -> p = 1/3, r = 1/2 -> f1 = 0.4
    assert compute_f1("cat dog", "cat cat cat") == pytest.approx(0.4, abs=1e-12)
    # gold [cat, cat, sat], pred [cat, cat, cat]: two shared -> p = r = 2/3
    assert compute_f1("the cat the cat sat", "cat cat cat") == pytest.approx(2 / 3, abs=1e-12)


def test_f1_no_overlap_and_empty_sides():
    assert compute_f1("cat", "dog") == 0
    assert compute_f1("", "") == 1
    assert compute_f1("", "a an the") == 1
    assert compute_f1("", "cat") == 0
    assert compute_f1("cat", "") == 0
    assert compute_f1("cat", "!!!") == 0


# --- raw scores over several gold answers -----------------------------------------


def test_max_over_golds_for_exact_and_f1():
    # exact comes from the second gold
    assert one_question_scores(["Denver Broncos", "Broncos"], "broncos") == (1, 1)
    # f1: 2/3 against gold 1 (p=1, r=1/2), 0.4 against gold 2 (p=1, r=1/4): max is 2/3
    exact, f1 = one_question_scores(["Denver Broncos", "Broncos of Denver city"], "Denver")
    assert exact == 0
    assert f1 == pytest.approx(2 / 3, abs=1e-12)
    # f1 is 0.8 against "blue whale" (p = 2/3, r = 1) and 0.5 against "whale" (p = 1/3, r = 1)
    exact, f1 = one_question_scores(["whale", "blue whale"], "big blue whale")
    assert exact == 0
    assert f1 == pytest.approx(0.8, abs=1e-12)


def test_unanswerable_question_scores():
    assert one_question_scores([], "") == (1, 1)
    assert one_question_scores([], "Paris") == (0, 0)
    assert one_question_scores(["Paris"], "") == (0, 0)


def test_golds_that_normalise_to_empty_are_dropped():
    # Only "the" and "a": no usable gold, so the question is scored as unanswerable ...
    assert one_question_scores(["the", "a"], "") == (1, 1)
    assert one_question_scores(["the", "a"], "cat") == (0, 0)
    # ... even though it still counts as answerable for the HasAns/NoAns split.
    assert make_qid_to_has_ans(make_dataset([("q", ["the"])])) == {"q": True}
    # With a real gold beside it, "the" is ignored and "" is no longer right.
    assert one_question_scores(["the", "cat"], "") == (0, 0)
    assert one_question_scores(["the", "cat"], "cat") == (1, 1)


def test_get_raw_scores_keeps_dataset_order():
    dataset = make_dataset([("b", ["x"]), ("a", []), ("c", ["y"])])
    exact, f1 = get_raw_scores(dataset, {"c": "y", "a": "", "b": "z"})
    assert list(exact) == ["b", "a", "c"]
    assert list(f1) == ["b", "a", "c"]


# --- small building blocks -----------------------------------------------------------


def test_make_eval_dict_and_merge_eval():
    exact = {"a": 1, "b": 0, "c": 1, "d": 1}
    f1 = {"a": 1.0, "b": 0.5, "c": 1.0, "d": 1.0}
    assert make_eval_dict(exact, f1) == {"exact": 75.0, "f1": 87.5, "total": 4}
    assert list(make_eval_dict(exact, f1)) == ["exact", "f1", "total"]
    sub = make_eval_dict(exact, f1, qid_list=["a", "b"])
    assert sub == {"exact": 50.0, "f1": 75.0, "total": 2}
    # as in the official script, an empty list means "all ids"
    assert make_eval_dict(exact, f1, qid_list=[]) == make_eval_dict(exact, f1)

    main = {"exact": 1.0}
    merge_eval(main, sub, "HasAns")
    assert main == {"exact": 1.0, "HasAns_exact": 50.0, "HasAns_f1": 75.0, "HasAns_total": 2}


def test_apply_no_ans_threshold():
    scores = {"a": 0.5, "b": 0.0, "c": 1.0, "d": 0.0}
    na_probs = {"a": 0.9, "b": 0.9, "c": 0.5, "d": 0.1}
    has_ans = {"a": True, "b": False, "c": True, "d": False}
    # a, b are above 0.5 and become "no answer": wrong for a, right for b;
    # c sits exactly on the threshold and keeps its score (strictly greater is needed).
    assert apply_no_ans_threshold(scores, na_probs, has_ans, 0.5) == {"a": 0.0, "b": 1.0, "c": 1.0, "d": 0.0}
    assert apply_no_ans_threshold(scores, na_probs, has_ans, 1.0) == scores


# --- threshold search ----------------------------------------------------------------


def test_best_thresh_depends_on_insertion_order_of_ties():
    preds = {"a": "x", "b": "y"}
    scores = {"a": 1, "b": 0}
    has_ans = {"a": True, "b": False}
    # Start at 1 (b right as no-answer). Order a, b: a +1 -> 2 (best, at 0.5), b -1 -> 1.
    assert find_best_thresh(preds, scores, {"a": 0.5, "b": 0.5}, has_ans) == (100.0, 0.5)
    # Order b, a: b -1 -> 0, a +1 -> 1, never above the start: best stays 1 at threshold 0.0.
    assert find_best_thresh(preds, scores, {"b": 0.5, "a": 0.5}, has_ans) == (50.0, 0.0)


def test_best_thresh_zero_when_no_answer_everywhere_is_best():
    preds = {"a": "wrong", "b": "y", "c": ""}
    scores = {"a": 0, "b": 0, "c": 1}
    has_ans = {"a": True, "b": False, "c": False}
    # Start at 2; a +0, b -1, c +0: nothing beats the start.
    assert find_best_thresh(preds, scores, {"a": 0.2, "b": 0.3, "c": 0.4}, has_ans) == (
        pytest.approx(200 / 3),
        0.0,
    )


def test_best_thresh_empty_prediction_for_unanswerable_costs_nothing():
    preds = {"a": "", "b": "x"}
    scores = {"a": 1, "b": 1}
    has_ans = {"a": False, "b": True}
    # Start at 1; a abstains (+0) -> 1, b +1 -> 2 at 0.2.
    assert find_best_thresh(preds, scores, {"a": 0.1, "b": 0.2}, has_ans) == (100.0, 0.2)


def test_best_thresh_counts_only_the_scored_unanswerable_questions():
    # c has no prediction: the sweep starts from the scored unanswerable
    # questions (b: 1 of 2), as it divides by the scored count (2). The
    # official script starts from all of them (2) and says 150.0 here.
    preds = {"a": "x", "b": ""}
    scores = {"a": 1, "b": 1}
    has_ans = {"a": True, "b": False, "c": False}
    assert find_best_thresh(preds, scores, {"a": 0.1, "b": 0.2}, has_ans) == (100.0, 0.1)


def test_best_thresh_answering_an_unanswerable_question_costs_exactly_one_point():
    preds = {"b": "wrong", "a": "x", "c": "y"}
    scores = {"b": 0, "a": 1, "c": 1}
    has_ans = {"b": False, "a": True, "c": True}
    # Start at 1 (b right as no-answer). b answered: -1 -> 0; a +1 -> 1 (a tie, not a gain); c +1 -> 2, best at 0.3.
    # Had b cost more than the one point it had, c could not beat the start.
    assert find_best_thresh(preds, scores, {"b": 0.1, "a": 0.2, "c": 0.3}, has_ans) == (pytest.approx(200 / 3), 0.3)


def test_best_thresh_skips_ids_without_scores():
    preds = {"a": "x"}
    scores = {"a": 1}
    has_ans = {"a": True}
    assert find_best_thresh(preds, scores, {"zzz": 0.0, "a": 0.7}, has_ans) == (100.0, 0.7)


def test_find_all_best_thresh_sets_four_keys():
    out = {"exact": 0.0}
    preds = {"a": "big cat", "b": "dog"}
    exact = {"a": 0, "b": 0}
    f1 = {"a": 2 / 3, "b": 0}
    has_ans = {"a": True, "b": False}
    find_all_best_thresh(out, preds, exact, f1, {"a": 0.25, "b": 0.75}, has_ans)
    # exact: start 1, a +0, b -1 -> best 1 at 0.0; f1: a +2/3 -> 5/3 at 0.25.
    assert list(out) == ["exact", *BEST_KEYS]
    assert out["best_exact"] == 50.0
    assert out["best_exact_thresh"] == 0.0
    assert out["best_f1"] == pytest.approx(100 * (5 / 3) / 2)
    assert out["best_f1_thresh"] == 0.25


# --- the whole evaluation on a hand-made dataset ----------------------------------------

TINY = make_dataset(
    [
        ("q1", ["Denver Broncos", "Denver Broncos"]),
        ("q2", ["1990"]),
        ("q3", ["Paris"]),
        ("q4", []),
        ("q5", []),
    ]
)
TINY_PREDS = {
    "q1": "the Broncos",  # exact 0, f1 2/3 (p = 1, r = 1/2)
    "q2": "1990.",  # exact 1, f1 1
    "q3": "",  # answerable, abstained: 0, 0
    "q4": "",  # unanswerable, abstained: 1, 1
    "q5": "London",  # unanswerable, answered: 0, 0
}
TINY_NA_PROBS = {"q1": 0.15, "q2": 0.1, "q3": 0.8, "q4": 0.9, "q5": 0.6}


def test_evaluate_tiny_dataset():
    out = squad_v2_evaluate(TINY, TINY_PREDS)
    assert list(out) == BASE_KEYS
    assert out["exact"] == pytest.approx(40.0)  # 2 / 5
    assert out["f1"] == pytest.approx(100 * (2 / 3 + 1 + 1) / 5)
    assert out["total"] == 5
    assert out["HasAns_exact"] == pytest.approx(100 / 3)
    assert out["HasAns_f1"] == pytest.approx(100 * (2 / 3 + 1) / 3)
    assert out["HasAns_total"] == 3
    assert out["NoAns_exact"] == pytest.approx(50.0)
    assert out["NoAns_f1"] == pytest.approx(50.0)
    assert out["NoAns_total"] == 2


def test_evaluate_tiny_dataset_with_na_probs():
    out = squad_v2_evaluate(TINY, TINY_PREDS, na_probs=TINY_NA_PROBS)
    assert list(out) == BASE_KEYS + BEST_KEYS
    # Threshold 1.0 changes nothing, so the base numbers are as without na_probs.
    assert out["exact"] == pytest.approx(40.0)
    # Sweep from 2 (q4, q5 right) in order q2, q1, q5, q3, q4:
    #   exact: 3 (q2, best at 0.1), 3, 2, 2, 2        -> 3/5
    #   f1:    3 (q2), 11/3 (q1, best at 0.15), 8/3, ... -> (11/3)/5
    assert out["best_exact"] == pytest.approx(60.0)
    assert out["best_exact_thresh"] == 0.1
    assert out["best_f1"] == pytest.approx(100 * (11 / 3) / 5)
    assert out["best_f1_thresh"] == 0.15


def test_evaluate_tiny_dataset_with_na_prob_thresh():
    out = squad_v2_evaluate(TINY, TINY_PREDS, na_probs=TINY_NA_PROBS, na_prob_thresh=0.5)
    # q3, q4, q5 (na_prob > 0.5) become "no answer": q3 0, q4 1, q5 now 1.
    assert out["exact"] == pytest.approx(60.0)  # 0 + 1 + 0 + 1 + 1
    assert out["f1"] == pytest.approx(100 * (2 / 3 + 1 + 0 + 1 + 1) / 5)
    assert out["HasAns_exact"] == pytest.approx(100 / 3)
    assert out["NoAns_exact"] == pytest.approx(100.0)
    assert out["NoAns_f1"] == pytest.approx(100.0)
    # the sweep uses the raw scores, so it is unaffected by na_prob_thresh
    assert out["best_exact"] == pytest.approx(60.0)
    assert out["best_f1_thresh"] == 0.15


def test_default_no_answer_threshold_is_one():
    # As in the official script (--na-prob-thresh 1.0): only probabilities above 1.0 turn into "no answer".
    # q2 (right, answerable) at 1.5 becomes a wrong no-answer; q5 (wrong, unanswerable) at exactly 1.0 keeps its 0.
    na_probs = {**TINY_NA_PROBS, "q2": 1.5, "q5": 1.0}
    out = squad_v2_evaluate(TINY, TINY_PREDS, na_probs=na_probs)
    assert out["exact"] == pytest.approx(20.0)  # only q4 right
    assert out["HasAns_exact"] == 0.0
    assert out["NoAns_exact"] == pytest.approx(50.0)


def test_without_na_probs_every_probability_is_zero_whatever_the_threshold():
    # No na_probs means 0.0 for every question, so any threshold at or above 0 changes nothing.
    for thresh in (0.0, 0.5, 1.0):
        assert squad_v2_evaluate(TINY, TINY_PREDS, na_prob_thresh=thresh) == squad_v2_evaluate(TINY, TINY_PREDS)
    # ... and a negative one turns every question into "no answer": q4 and q5 right.
    out = squad_v2_evaluate(TINY, TINY_PREDS, na_prob_thresh=-0.5)
    assert (out["HasAns_exact"], out["NoAns_exact"], out["NoAns_f1"]) == (0.0, 100.0, 100.0)


def test_missing_and_extra_predictions():
    preds = {"q1": "the Broncos", "q2": "1990", "q4": "", "zzz": "extra"}
    assert missing_and_extra(TINY, preds) == (["q3", "q5"], ["zzz"])
    out = squad_v2_evaluate(TINY, preds)
    # scored over q1, q2, q4 only; "zzz" is ignored
    assert out["total"] == 3
    assert out["exact"] == pytest.approx(100 * 2 / 3)
    assert out["f1"] == pytest.approx(100 * (2 / 3 + 1 + 1) / 3)
    assert out["HasAns_total"] == 2
    assert out["HasAns_f1"] == pytest.approx(100 * (2 / 3 + 1) / 2)
    assert out["NoAns_total"] == 1
    assert out["NoAns_exact"] == pytest.approx(100.0)


def test_subset_without_scored_questions_is_left_out():
    out = squad_v2_evaluate(TINY, {"q4": "", "q5": "x"})
    assert list(out) == ["exact", "f1", "total", "NoAns_exact", "NoAns_f1", "NoAns_total"]
    assert out["total"] == 2
    assert out["exact"] == pytest.approx(50.0)


def test_all_ids_present_matches_unrestricted_subsets():
    # With no missing predictions the subsets are the official ones.
    assert squad_v2_evaluate(TINY, TINY_PREDS)["HasAns_total"] == 3
    only_answerable = make_dataset([("a", ["x"]), ("b", ["y"])])
    out = squad_v2_evaluate(only_answerable, {"a": "x", "b": "z"})
    assert list(out) == ["exact", "f1", "total", "HasAns_exact", "HasAns_f1", "HasAns_total"]
    assert out["HasAns_exact"] == out["exact"] == 50.0


def test_no_scored_question_raises():
    with pytest.raises(BenchError) as err:
        squad_v2_evaluate(TINY, {"other": "x"})
    assert str(err.value) == ("no prediction matches any of the 5 question ids in the dataset; "
                              "check that the predictions belong to this dataset")
    with pytest.raises(BenchError):
        squad_v2_evaluate(TINY, {})


def test_na_probs_missing_a_scored_id_raises():
    na_probs = {k: v for k, v in TINY_NA_PROBS.items() if k not in ("q2", "q3")}
    with pytest.raises(BenchError) as err:
        squad_v2_evaluate(TINY, TINY_PREDS, na_probs=na_probs)
    assert str(err.value) == "no-answer probabilities are missing for 2 predicted question id(s), e.g. 'q2'"


# --- properties --------------------------------------------------------------------------

# Random unicode, plus text built from pieces that exercise articles, punctuation and spacing.
_PIECES = ["a", "an", "the", "The", "A", "cat", "dog", "é", "İ", ".", ",", "-", "'", "!", " ", "  ", "\t", "\n"]
texts = st.one_of(st.text(), st.lists(st.sampled_from(_PIECES), max_size=12).map("".join))


@given(texts)
def test_normalize_is_idempotent(s):
    once = normalize_answer(s)
    assert normalize_answer(once) == once


@given(texts)
def test_normalize_output_shape(s):
    out = normalize_answer(s)
    assert out == out.strip()
    assert "  " not in out
    assert out == " ".join(out.split())
    assert not set(out) & set(string.punctuation)
    assert not set(get_tokens(s)) & {"a", "an", "the"}


@given(texts)
def test_f1_of_text_with_itself_is_one(s):
    assert compute_f1(s, s) == 1
    assert compute_exact(s, s) == 1


@given(texts, texts)
def test_f1_symmetric_and_bounded(a, b):
    f1 = compute_f1(a, b)
    assert f1 == compute_f1(b, a)
    assert 0 <= f1 <= 1


@given(texts, texts)
def test_exact_implies_full_f1(a, b):
    if compute_exact(a, b):
        assert compute_f1(a, b) == 1


# --- the real dev set -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dev_set(dev) -> list[dict]:
    return dev.data


def test_dev_set_first_gold_answer_scores_100(dev_set):
    preds = {qid: "" for qid in make_qid_to_has_ans(dev_set)}
    for article in dev_set:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                if qa["answers"]:
                    preds[qa["id"]] = qa["answers"][0]["text"]
    out = squad_v2_evaluate(dev_set, preds)
    assert out["exact"] == 100.0
    assert out["f1"] == 100.0
    assert out["total"] == 11873
    assert out["HasAns_total"] == 5928
    assert out["NoAns_total"] == 5945


def test_dev_set_all_empty_predictions(dev_set):
    preds = {qid: "" for qid in make_qid_to_has_ans(dev_set)}
    out = squad_v2_evaluate(dev_set, preds)
    assert out["exact"] == pytest.approx(100 * 5945 / 11873, abs=1e-9)
    assert out["f1"] == pytest.approx(100 * 5945 / 11873, abs=1e-9)
    assert out["HasAns_exact"] == 0.0
    assert out["NoAns_exact"] == 100.0


# --- the fast get_raw_scores against the official per-answer definitions -----------------------------------


def _official_raw_scores(dataset, preds):
    """evaluate-v2.0.py's get_raw_scores, verbatim in structure: every gold answer through compute_*."""
    exact, f1 = {}, {}
    for article in dataset:
        for p in article["paragraphs"]:
            for qa in p["qas"]:
                golds = [a["text"] for a in qa["answers"] if normalize_answer(a["text"])] or [""]
                if qa["id"] in preds:
                    exact[qa["id"]] = max(compute_exact(a, preds[qa["id"]]) for a in golds)
                    f1[qa["id"]] = max(compute_f1(a, preds[qa["id"]]) for a in golds)
    return exact, f1


def _official_normalize(s):
    import re

    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


_text = st.lists(st.sampled_from(list("ab cthe.,!-'é\u00a0\u2019") + ["the ", "an ", "a ", "The"]), max_size=12).map("".join)


# ASCII text takes a bytes fast path: mix articles with every ASCII character (digits, "_", control
# characters, and \x1c-\x1f, which str.split treats as spaces but bytes.split does not).
_ascii = st.lists(
    st.one_of(st.sampled_from(["a", "an", "the", "A ", " The", "x_", "1"]), st.characters(max_codepoint=127)), max_size=12
).map("".join)


@given(st.one_of(_text, _ascii, st.text()))
def test_normalize_matches_official_definition(s):
    assert normalize_answer(s) == _official_normalize(s)


@given(st.lists(_text, max_size=4), _text)
def test_raw_scores_match_official_per_answer_loop(golds, pred):
    ds = make_dataset([("q", golds)])
    assert get_raw_scores(ds, {"q": pred}) == _official_raw_scores(ds, {"q": pred})


def test_raw_scores_match_official_on_dev(dev):
    import random

    rnd = random.Random(0)
    preds = {}
    for e in dev.examples:  # right, partly right, wrong and empty answers
        words = e.context.split()
        k = rnd.randrange(4)
        preds[e.id] = [e.answers[0].text if e.answers else "", " ".join(words[:3]), "", rnd.choice(words)][k]
    assert get_raw_scores(dev.data, preds) == _official_raw_scores(dev.data, preds)


def test_best_scores_with_missing_predictions_are_percentages_of_the_scored_questions():
    """The sweep starts from "answer nothing" over the scored questions only: with 3 of 5 predicted (q4
    unanswerable, q1 and q2 answerable), answering nothing gets 1 of 3 right, not the dataset's 2 of 3."""
    preds = {"q1": "the Broncos", "q2": "1990", "q4": ""}
    out = squad_v2_evaluate(TINY, preds, na_probs={"q1": 0.9, "q2": 0.8, "q4": 0.1})
    assert all(0 <= out[k] <= 100 for k in ("best_exact", "best_f1"))
    # by hand: threshold below q4 (0.1) answers nothing: 1/3; q4's prediction "" is no answer, so still 1/3;
    # then q2 (0.8, right): 2/3; then q1 (0.9, EM 0): 2/3 EM; F1 adds q1's 2/3
    assert out["best_exact"] == pytest.approx(100 * 2 / 3) and out["best_f1"] == pytest.approx(100 * (1 + 1 + 2 / 3) / 3)
