import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from albert_bench.data import Example
from albert_bench.decode import DecodeConfig, decode
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
