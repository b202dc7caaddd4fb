import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from albert_bench.data import Example
from albert_bench.decode import DecodeConfig, decode, oracle_check, oracle_logits, tuned_threshold
from albert_bench.features import Features

CONTEXT = "alpha beta gamma delta epsilon zeta eta theta"
WORDS = [(0, 5), (6, 10), (11, 16), (17, 22), (23, 30), (31, 35), (36, 39), (40, 45)]


def window(word_ids, n_question=2):
    """Offsets of a window: CLS, n question tokens, SEP, the given context words, SEP."""
    offs = [(-1, -1)] * (n_question + 2) + [WORDS[w] for w in word_ids] + [(-1, -1)]
    return np.array(offs, dtype=np.int64)


def feats(windows, example_index=None):
    n = len(windows)
    return Features(
        input_ids=[np.zeros(len(w), np.int32) for w in windows],
        token_type_ids=[np.zeros(len(w), np.int8) for w in windows],
        offsets=windows,
        example_index=np.array(example_index or [0] * n),
        start_positions=np.zeros(n, np.int64), end_positions=np.zeros(n, np.int64), cls_index=np.zeros(n, np.int64))


def logits(length, start=None, end=None, cls=(0.0, 0.0), rest=-5.0):
    s, e = np.full(length, rest, np.float32), np.full(length, rest, np.float32)
    s[0], e[0] = cls
    for i, v in (start or {}).items():
        s[i] = v
    for i, v in (end or {}).items():
        e[i] = v
    return s, e


EX = [Example("q", "?", CONTEXT, [])]


def test_picks_best_span_and_cuts_original_text():
    w = window(range(8))
    s, e = logits(len(w), {5: 3.0}, {6: 4.0}, cls=(-1, -1))
    d = decode(EX, feats([w]), [s], [e])
    assert d.predictions["q"] == "beta gamma"  # tokens 5..6 = words 1..2
    assert d.null_odds["q"] == -2 - 7
    assert d.spans["q"] == (6, 16)


def test_no_answer_when_null_beats_best_span():
    w = window(range(8))
    s, e = logits(len(w), {5: 1.0}, {6: 1.0}, cls=(2.0, 2.0))
    d = decode(EX, feats([w]), [s], [e])
    assert d.predictions["q"] == "" and d.null_odds["q"] == 2.0
    assert d.nbest["q"][0]["text"] == "" and d.nbest["q"][0]["start"] is None
    # a threshold above the odds answers it after all
    d2 = decode(EX, feats([w]), [s], [e], DecodeConfig(null_threshold=2.5))
    assert d2.predictions["q"] == "beta gamma"


def test_answer_in_second_window_and_null_is_min_over_windows():
    w1, w2 = window([0, 1, 2, 3]), window([2, 3, 4, 5, 6, 7])
    s1, e1 = logits(len(w1), cls=(3.0, 3.0))  # window 1: sure there is no answer here
    s2, e2 = logits(len(w2), {8: 4.0}, {9: 4.0}, cls=(-2.0, -1.0))  # window 2: "theta"? no: tokens 8,9 = words 6,7
    d = decode(EX, feats([w1, w2]), [s1, s2], [e1, e2])
    assert d.predictions["q"] == "eta theta"
    assert d.null_odds["q"] == -3.0 - 8.0  # null = min(6, -3)


def test_invalid_spans_never_chosen():
    w = window(range(8))
    # end before start, question tokens, SEP and too-long spans score highest but are invalid
    s, e = logits(len(w), {9: 9.0, 1: 20.0, 4: 8.0, 5: 1.0}, {6: 9.0, 2: 20.0, 12: 20.0, 11: 8.0, 7: 1.0}, cls=(-9, -9))
    d = decode(EX, feats([w]), [s], [e], DecodeConfig(max_answer_length=3))
    # best valid: start 5 (1.0) .. end 7 (1.0) = 3 tokens, or start 4 .. 6 (8+9=17, 3 tokens) -> "alpha beta gamma"
    assert d.predictions["q"] == "alpha beta gamma"
    for ent in d.nbest["q"]:
        if ent["start"] is not None:
            assert ent["start"] < ent["end"] and len(ent["text"].split()) <= 3


def test_ties_go_to_earlier_window_then_earlier_start():
    w = window(range(8))
    s, e = logits(len(w), {4: 1.0, 7: 1.0}, {4: 1.0, 7: 1.0}, cls=(-9, -9))
    d = decode(EX, feats([w]), [s], [e])
    assert d.predictions["q"] == "alpha"
    d2 = decode(EX, feats([w, w]), [s, s], [e, e])
    assert d2.predictions["q"] == "alpha"


def test_several_examples_interleaved_windows_and_nbest_probabilities():
    exs = [Example("a", "?", CONTEXT, []), Example("b", "?", CONTEXT, [])]
    w = window(range(8))
    sa, ea = logits(len(w), {4: 5.0}, {4: 5.0}, cls=(-5, -5))
    sb, eb = logits(len(w), {11: 5.0}, {11: 5.0}, cls=(-5, -5))
    d = decode(exs, feats([w, w, w], [0, 1, 0]), [sa, sb, sa], [ea, eb, ea], DecodeConfig(n_best_size=5))
    assert d.predictions == {"a": "alpha", "b": "theta"}
    for nb in d.nbest.values():
        assert len(nb) == 6 and abs(sum(x["probability"] for x in nb) - 1) < 1e-9
        assert [x["score"] for x in nb] == sorted((x["score"] for x in nb), reverse=True)


def brute_force(s, e, offs, max_len):
    """The plain double loop the vectorised decoder replaces."""
    best = (-np.inf, None)
    for i in range(len(s)):
        for j in range(i, min(i + max_len, len(s))):
            if offs[i, 0] >= 0 and offs[j, 0] >= 0 and s[i] + e[j] > best[0]:
                best = (s[i] + e[j], (i, j))
    return best


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 8))
def test_matches_brute_force_double_loop(seed, max_len):
    rng = np.random.default_rng(seed)
    wins = [window(sorted(rng.choice(8, size=rng.integers(1, 9), replace=False))) for _ in range(rng.integers(1, 4))]
    S = [rng.normal(size=len(w)).astype(np.float32) for w in wins]
    E = [rng.normal(size=len(w)).astype(np.float32) for w in wins]
    d = decode(EX, feats(wins), S, E, DecodeConfig(max_answer_length=max_len))
    cands = [(brute_force(S[k], E[k], wins[k], max_len), k) for k in range(len(wins))]
    (score, (i, j)), k = max(cands, key=lambda c: c[0][0])
    null = min(S[k][0] + E[k][0] for k in range(len(wins)))
    assert np.isclose(d.null_odds["q"], null - score, atol=1e-5)
    # ties follow the decoder's rule, which the loops above share: earlier window, earlier start, shorter span
    assert d.spans["q"] == (wins[k][i, 0], wins[k][j, 1])


def test_no_windows_no_answers():
    d = decode([], feats([]), [], [])
    assert d.predictions == {} and d.nbest == {}


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_grouped_merge_equals_full_sort(seed):
    """Windows in example order take the shortcut merge; shuffled windows take the full sort: same answers."""
    rng = np.random.default_rng(seed)
    exs = [Example(str(i), "?", CONTEXT, []) for i in range(4)]
    index = sorted(rng.integers(0, 4, size=rng.integers(4, 10)).tolist())
    wins = [window(sorted(rng.choice(8, size=rng.integers(1, 9), replace=False))) for _ in index]
    S = [rng.normal(size=len(w)).astype(np.float32) for w in wins]
    E = [rng.normal(size=len(w)).astype(np.float32) for w in wins]
    cfg = DecodeConfig(n_best_size=6, max_answer_length=4)
    grouped = decode(exs, feats(wins, index), S, E, cfg)
    p = rng.permutation(len(wins))
    shuffled = decode(exs, feats([wins[i] for i in p], [index[i] for i in p]), [S[i] for i in p], [E[i] for i in p], cfg)
    assert grouped.predictions == shuffled.predictions and grouped.null_odds == shuffled.null_odds
    assert dict(grouped.nbest) == dict(shuffled.nbest)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 5))
def test_best_span_is_first_nbest_entry_with_ties(seed, max_len):
    """Predictions come from a top-1 search, n-best lists from a top-k one: with integer logits (ties
    everywhere) both must still pick the same span, by the rule: best score, earlier window, earlier start,
    shorter span."""
    rng = np.random.default_rng(seed)
    exs = [Example(str(i), "?", CONTEXT, []) for i in range(3)]
    index = rng.integers(0, 3, size=rng.integers(3, 8)).tolist()
    wins = [window(sorted(rng.choice(8, size=rng.integers(1, 9), replace=False))) for _ in index]
    S = [rng.integers(-2, 3, size=len(w)).astype(np.float32) for w in wins]
    E = [rng.integers(-2, 3, size=len(w)).astype(np.float32) for w in wins]
    d = decode(exs, feats(wins, index), S, E, DecodeConfig(n_best_size=4, max_answer_length=max_len))
    for qid in d.predictions:
        cands = [
            (-(S[k][i] + E[k][j]), k, i, j)
            for k in range(len(wins)) if index[k] == int(qid)
            for i in range(len(wins[k])) for j in range(i, min(i + max_len, len(wins[k])))
            if wins[k][i, 0] >= 0 and wins[k][j, 0] >= 0
        ]
        _, k, i, j = min(cands)
        assert d.spans[qid] == (wins[k][i, 0], wins[k][j, 1])
        first = next(x for x in d.nbest[qid] if x["start"] is not None)
        assert (first["start"], first["end"]) == d.spans[qid] and first["text"] == d.best_text[qid]
        assert first["score"] == -min(cands)[0]


def test_nbest_ties_at_the_cut_go_to_earlier_starts():
    """Eight starts tie, only two make the cut: the earliest two, every time (argpartition alone would pick any)."""
    w = window(range(8))
    s, e = logits(len(w), {i: 1.0 for i in range(4, 12)}, {i: 1.0 for i in range(4, 12)}, cls=(-9, -9))
    for _ in range(3):
        nb = decode(EX, feats([w]), [s], [e], DecodeConfig(n_best_size=2, max_answer_length=1)).nbest["q"]
        assert [x["text"] for x in nb if x["start"] is not None] == ["alpha", "beta"]


def test_shorter_span_wins_when_float32_sums_tie():
    """e[5] > e[4], but 8 + e[4] == 8 + e[5] in float32: the spans tie, so the shorter one is the answer."""
    w = window(range(8))
    s, e = logits(len(w), {4: 8.0}, {4: 1.0, 5: float(np.float32(1.0000001))}, cls=(-20, -20), rest=-20.0)
    d = decode(EX, feats([w]), [s], [e])
    assert d.predictions["q"] == "alpha"
    assert d.nbest["q"][0]["text"] == "alpha"


def test_decoded_pickles_with_its_lazy_nbest():
    import pickle

    w = window(range(8))
    s, e = logits(len(w), {5: 3.0}, {6: 4.0}, cls=(-1, -1))
    d = pickle.loads(pickle.dumps(decode(EX, feats([w]), [s], [e])))
    assert d.nbest["q"][0]["text"] == "beta gamma"


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 5))
def test_nbest_spans_are_distinct_with_each_ones_best_window_score(seed, max_len):
    """Overlapping windows find the same characters: the n-best lists each span once, with the best score any
    window gave it, and holds the k best distinct spans (or all there are)."""
    rng = np.random.default_rng(seed)
    first = int(rng.integers(0, 4))
    wins = [window(list(range(first, 8))), window(list(range(0, first + 4))), window(list(range(2, 7)))]
    S = [rng.normal(size=len(w)).astype(np.float32) for w in wins]
    E = [rng.normal(size=len(w)).astype(np.float32) for w in wins]
    k = int(rng.integers(1, 12))
    d = decode(EX, feats(wins), S, E, DecodeConfig(n_best_size=k, max_answer_length=max_len))
    best: dict = {}
    for w, offs in enumerate(wins):
        for i in range(len(offs)):
            for j in range(i, min(i + max_len, len(offs))):
                if offs[i, 0] >= 0 and offs[j, 0] >= 0:
                    span = (int(offs[i, 0]), int(offs[j, 1]))
                    best[span] = max(best.get(span, -np.inf), float(S[w][i] + E[w][j]))
    spans = [(x["start"], x["end"]) for x in d.nbest["q"] if x["start"] is not None]
    assert len(spans) == len(set(spans)) == min(k, len(best))
    for x in d.nbest["q"]:
        if x["start"] is not None:
            assert np.isclose(x["score"], best[(x["start"], x["end"])], atol=1e-5)
    assert sorted(best.values(), reverse=True)[len(spans) - 1] <= min(x["score"] for x in d.nbest["q"] if x["start"] is not None) + 1e-5


def test_window_without_context_tokens_gets_no_answer_and_the_capped_odds():
    """No token of the window may be an answer: no span, "" predicted, and null odds of 1e9 (the cap that stands
    for infinity, which JSON cannot carry), whatever the threshold."""
    w = window([])
    s, e = logits(len(w), {1: 50.0}, {2: 50.0}, cls=(-3.0, -3.0))  # question tokens score high, but are not context
    d = decode(EX, feats([w]), [s], [e], DecodeConfig(null_threshold=1e12))
    assert d.predictions == {"q": ""} and d.best_text == {"q": ""} and d.spans == {}
    assert d.null_odds == {"q": 1e9}
    assert d.nbest["q"] == [{"text": "", "start": None, "end": None, "score": -6.0, "probability": 1.0}]


def test_padded_logits_decode_like_unpadded_rows():
    """Logits as one padded [n, width] array, or as rows longer than their windows: the padding is never read."""
    w1, w2 = window([0, 1, 2]), window(range(8))
    s1, e1 = logits(len(w1), {4: 2.0}, {5: 2.0}, cls=(-1.0, -1.0))
    s2, e2 = logits(len(w2), {9: 3.0}, {10: 3.0}, cls=(-2.0, -2.0))
    f = feats([w1, w2], [0, 1])
    exs = [Example("a", "?", CONTEXT, []), Example("b", "?", CONTEXT, [])]
    width = len(w2) + 3

    def padded(rows):  # padding that would win every span if it were read
        return [np.concatenate([r, np.full(width - len(r), 99.0, np.float32)]) for r in rows]

    cfg = DecodeConfig(n_best_size=4)
    ref = decode(exs, f, [s1, s2], [e1, e2], cfg)
    assert ref.predictions == {"a": "alpha beta", "b": "zeta eta"}
    for start, end in ((np.stack(padded([s1, s2])), np.stack(padded([e1, e2]))), (padded([s1, s2]), padded([e1, e2]))):
        d = decode(exs, f, start, end, cfg)
        assert d.predictions == ref.predictions and d.null_odds == ref.null_odds and d.spans == ref.spans
        assert dict(d.nbest) == dict(ref.nbest)


def test_null_score_is_read_at_each_windows_cls_index():
    """The no-answer slot is wherever `cls_index` says (here the last token, as XLNet puts it), not always token 0."""
    offs = np.array([(-1, -1), (-1, -1)] + WORDS[:3] + [(-1, -1), (-1, -1)], dtype=np.int64)  # q, SEP, 3 words, SEP, CLS
    s, e = logits(len(offs), {2: 1.0}, {3: 1.0}, cls=(9.0, 9.0))  # token 0 is a question token here: it holds no null
    s[6], e[6] = 0.5, 0.25
    f = feats([offs])
    f.cls_index[:] = 6
    d = decode(EX, f, [s], [e])
    assert d.null_odds["q"] == 0.75 - 2.0
    assert d.predictions["q"] == "alpha beta"


def test_more_windows_than_one_chunk_each_get_their_own_best_span():
    """Over 512 windows are decoded in several chunks (in threads where there are several cores): every example still
    gets the best span of its own window, as the double loop finds it, and that span heads its n-best list."""
    rng = np.random.default_rng(3)
    n = 1100
    wins = [window(sorted(rng.choice(8, size=rng.integers(1, 9), replace=False))) for _ in range(n)]
    S = [rng.normal(size=len(w)).astype(np.float32) for w in wins]
    E = [rng.normal(size=len(w)).astype(np.float32) for w in wins]
    exs = [Example(str(i), "?", CONTEXT, []) for i in range(n)]
    d = decode(exs, feats(wins, list(range(n))), S, E, DecodeConfig(n_best_size=2, max_answer_length=3))
    for k in range(n):
        score, (i, j) = brute_force(S[k], E[k], wins[k], 3)
        assert d.spans[str(k)] == (wins[k][i, 0], wins[k][j, 1])
        assert np.isclose(d.null_odds[str(k)], S[k][0] + E[k][0] - score, atol=1e-5)
        first = next(x for x in d.nbest[str(k)] if x["start"] is not None)
        assert (first["start"], first["end"]) == d.spans[str(k)]


LONG_CONTEXT = " ".join(f"w{i:02d}" for i in range(40))  # 40 words of 3 characters


def test_default_config_answers_spans_of_up_to_30_tokens():
    """The defaults are SQuAD's usual ones (README): answers of at most 30 tokens."""
    offs = np.array([(-1, -1)] * 3 + [(4 * i, 4 * i + 3) for i in range(40)] + [(-1, -1)], dtype=np.int64)
    ex = [Example("q", "?", LONG_CONTEXT, [])]
    # start w00 = 5; ends: w29 = 1, w30 = 10. w00..w30 is 31 tokens: too long, so w00..w29 (6) beats w01..w30 (5).
    s, e = logits(len(offs), {3: 5.0}, {3 + 29: 1.0, 3 + 30: 10.0}, cls=(-50.0, -50.0))
    d = decode(ex, feats([offs]), [s], [e])
    assert d.best_text["q"] == LONG_CONTEXT[: 4 * 29 + 3]
    assert d.best_text["q"].split()[-1] == "w29" and len(d.best_text["q"].split()) == 30


def test_default_config_lists_20_spans_and_answers_up_to_zero_odds():
    w = window(range(8))  # 36 valid spans, more than the 20 listed
    s, e = logits(len(w), {4: 1.0}, {4: 1.0}, cls=(1.0, 1.0))  # null 2.0 == best span 2.0: odds 0, answered
    d = decode(EX, feats([w]), [s], [e])
    assert len(d.nbest["q"]) == 20 + 1  # and the null entry
    assert d.null_odds["q"] == 0.0 and d.predictions["q"] == "alpha"
    s[0] = 1.5  # odds 0.5 > 0: no answer
    assert decode(EX, feats([w]), [s], [e]).predictions["q"] == ""


def test_decode_config_cannot_be_changed_in_place():
    """`decode`'s default config is one shared object: it must be frozen, or one caller's change would be everyone's."""
    import dataclasses

    import pytest

    with pytest.raises(dataclasses.FrozenInstanceError):
        DecodeConfig().n_best_size = 5


def test_top_k_default_is_the_one_the_readme_states():
    from pathlib import Path

    from albert_bench.decode import TOP_K

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert f"the default, {TOP_K}, is the same for the API" in readme


def test_nbest_keeps_at_most_n_best_size_spans_per_example_over_its_windows():
    """Two examples, each with two windows that find different spans: each list is cut to n_best_size (+ null)."""
    exs = [Example("a", "?", CONTEXT, []), Example("b", "?", CONTEXT, [])]
    w1, w2 = window([0, 1, 2]), window([4, 5, 6])
    s1, e1 = logits(len(w1), cls=(-9, -9), rest=0.0)
    s2, e2 = logits(len(w2), cls=(-9, -9), rest=0.0)
    d = decode(exs, feats([w1, w2, w1, w2], [0, 0, 1, 1]), [s1, s2, s1, s2], [e1, e2, e1, e2], DecodeConfig(n_best_size=2))
    assert [len(d.nbest[q]) for q in ("a", "b")] == [3, 3]


def test_nbest_lists_every_span_when_there_are_fewer_than_n_best_size():
    w = window(range(8))
    s, e = logits(len(w), cls=(-9, -9), rest=0.0)
    nb = decode(EX, feats([w]), [s], [e], DecodeConfig(n_best_size=20, max_answer_length=1)).nbest["q"]
    assert sorted(x["text"] for x in nb if x["start"] is not None) == sorted(CONTEXT.split())  # the 8 one-word spans


def test_nbest_probabilities_are_the_softmax_of_the_listed_scores_and_null():
    w = window(range(8))
    s, e = logits(len(w), {4: 1.0, 5: 0.5}, {4: 1.0, 5: 0.25}, cls=(0.5, 0.25), rest=-3.0)
    nb = decode(EX, feats([w]), [s], [e], DecodeConfig(n_best_size=3, max_answer_length=2)).nbest["q"]
    # spans alpha (2.0), alpha beta (1.25), beta (0.75), and null 0.75: the null entry after the span it ties with
    assert [(x["text"], x["score"]) for x in nb] == [("alpha", 2.0), ("alpha beta", 1.25), ("beta", 0.75), ("", 0.75)]
    z = sum(np.exp(x["score"]) for x in nb)
    for x in nb:
        assert np.isclose(x["probability"], np.exp(x["score"]) / z, rtol=1e-9)


def test_oracle_logits_decode_to_the_labelled_spans():
    f = feats([window(range(8)), window(range(8))], [0, 1])
    f.start_positions[:], f.end_positions[:] = [5, 0], [6, 0]  # a span (words 1..2), and CLS: no answer
    s, e = oracle_logits(f)
    assert s[0][5] == e[0][6] == 10.0 and s[0][4] == e[0][5] == -10.0
    exs = [Example("a", "?", CONTEXT, []), Example("b", "?", CONTEXT, [])]
    assert decode(exs, f, s, e).predictions == {"a": "beta gamma", "b": ""}


# tuned_threshold: m is what squad_v2_evaluate returns (best_f1 and its threshold), null_odds the dev questions'.


def test_tuned_threshold_below_every_odds_when_answering_nothing_wins():
    # answering nothing gives 100 * NoAns_total / total = 50 = best_f1, and the search's 0.0 would answer "a"
    m = {"best_f1": 50.0, "best_f1_thresh": 0.0, "NoAns_total": 2, "total": 4}
    assert tuned_threshold(m, {"a": -0.5, "b": 2.0}) == -1.5  # min - 1
    assert tuned_threshold(m, {"a": 0.0, "b": 2.0}) == -1.0  # an odds right on 0.0 would be answered too
    # a dev set without unanswerable questions: answering nothing scores 0
    assert tuned_threshold({"best_f1": 0.0, "best_f1_thresh": 0.0, "total": 4}, {"a": -1.0}) == -2.0


def test_tuned_threshold_halfway_to_the_next_odds_otherwise():
    m = {"best_f1": 75.0, "best_f1_thresh": -0.5, "NoAns_total": 2, "total": 4}
    assert tuned_threshold(m, {"a": -1.0, "b": -0.5, "c": 1.5}) == 0.5  # (-0.5 + 1.5) / 2: b stays answered, c not
    assert tuned_threshold(m, {"a": -1.0, "b": -0.5}) == 0.5  # nothing above: threshold + 1
    # answering nothing ties best_f1, but no odds lies at or below the threshold: nothing to move below
    m = {"best_f1": 50.0, "best_f1_thresh": 0.0, "NoAns_total": 2, "total": 4}
    assert tuned_threshold(m, {"a": 1.0, "b": 2.0}) == 0.5
    assert tuned_threshold(m, {}) == 1.0


def test_oracle_check_reaches_full_marks_on_a_tiny_set(albert_tok, tmp_path, monkeypatch, capsys):
    import json

    from albert_bench.data import load_squad
    from albert_bench.features import FeatureConfig

    squad = {"version": "v2.0", "data": [{"title": "T", "paragraphs": [{"context": "The city of Grace is Vienna.", "qas": [
        {"id": "a", "question": "Which city?", "answers": [{"text": "Vienna", "answer_start": 21}]},
        {"id": "b", "question": "Which river?", "answers": [], "is_impossible": True}]}]}]}
    (tmp_path / "tiny.json").write_text(json.dumps(squad))
    sq = load_squad(str(tmp_path / "tiny.json"))
    monkeypatch.delenv("ALBERT_BENCH_QUIET", raising=False)
    res = oracle_check(sq.examples, albert_tok, FeatureConfig(), sq.data)
    assert "features" in capsys.readouterr().err  # `data check` shows its progress: the features are the slow part
    assert res["windows"] == 2
    assert res["round_trip"]["answerable"] == res["round_trip"]["labelled"] == 1
    assert res["oracle"] == {"exact": 100.0, "f1": 100.0, "HasAns_exact": 100.0, "NoAns_exact": 100.0}
