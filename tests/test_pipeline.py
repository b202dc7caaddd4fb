"""`from albert_bench import pipeline`: the removed transformers question-answering pipeline's API, checked
against the old pipeline's rules written out here from the model's own logits (its preprocess: the tokenizer's
overflowing windows, one forward pass each; its postprocess: masked softmax, start × end, word alignment)."""

import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from albert_bench.errors import BenchError
from albert_bench.features import build_features
from albert_bench.data import Example
from albert_bench.qa_pipeline import PipelineError, PipelineKeyError, align_to_words, word_bounds

PASSAGE = "The city of Grace is Vienna. The job of Oscar is pilot. The pet of Lena is a hamster."
NO_PET = "The city of Grace is Vienna. The job of Oscar is pilot."  # "What is the pet of Grace?" has no answer here
FILLER = " ".join(["Anna went for a long walk in the park."] * 25)
LONG = FILLER + " " + FILLER + " The favourite colour of Omar is purple."  # the answer in the last window only
MIDDLE = FILLER + " The favourite colour of Omar is purple. " + FILLER  # the answer in several windows
KEYS = {"score", "start", "end", "answer"}


def word_of(context: str, text: str) -> str:
    """The whitespace-delimited word holding `text` in `context`: the old pipeline's answer with word alignment on
    for ALBERT's real tokenizer, whose pre-tokenizer (WhitespaceSplit + Metaspace, in every transformers converter
    since 2020) makes a word of all between two spaces: "Vienna." is one word, so `align_to_words` answered it."""
    at = context.index(text)
    return next(m.group() for m in re.finditer(r"\S+", context) if m.start() <= at < m.end())


@pytest.fixture(scope="module")
def qa(trained):
    from albert_bench import pipeline

    return pipeline("question-answering", model=str(trained[0] / "best"), device=-1)


# --- The old pipeline, written out ------------------------------------------------------------------------------

def old_windows(qa, question, context, max_seq_len=384, doc_stride=128):
    """The old preprocess and _forward: the tokenizer's own overflowing windows of (question, context), each run
    alone. Per window: start and end logits (float64), the tokens allowed in the softmax (context and CLS), the
    context tokens, and the window's tokenizers.Encoding."""
    tok = qa.tokenizer
    enc = tok(question, context, truncation="only_second", max_length=max_seq_len, stride=doc_stride,
              return_overflowing_tokens=True, return_offsets_mapping=True, return_token_type_ids=True)
    out = []
    for i in range(len(enc["input_ids"])):
        with torch.inference_mode():
            o = qa.model(**{k: torch.tensor([enc[k][i]]) for k in tok.model_input_names})
        ctx = np.array([s == 1 for s in enc.sequence_ids(i)])
        allowed = ctx | (np.array(enc["input_ids"][i]) == tok.cls_token_id)
        out.append((o.start_logits[0].double().numpy(), o.end_logits[0].double().numpy(), allowed, ctx, enc.encodings[i]))
    return out


def softmax_over(logits, allowed):
    """Probabilities over the allowed tokens only: what the old -10000 for every other token amounts to."""
    p = np.zeros_like(logits)
    x = np.exp(logits[allowed] - logits[allowed].max())
    p[allowed] = x / x.sum()
    return p


def old_answers(qa, question, context, top_k=1, max_answer_len=15, handle_impossible_answer=False, align_to_words=True,
                max_seq_len=384, doc_stride=128, max_question_len=None):
    """The old postprocess: per window the outer product of start and end probabilities cut to the band
    start ≤ end < start + max_answer_len, spans in the context, the best 2·top_k + 10 (top_k without alignment),
    aligned with Encoding.word_to_chars; same text merges (added within a window; across windows, the best one,
    this port's documented change); the null score is the smallest p_start[0]·p_end[0]. max_question_len: the old
    fast-tokenizer path ignored it (these questions are shorter anyway)."""
    k = 2 * top_k + 10 if align_to_words else top_k
    found, null = {}, 1e6
    for s_logits, e_logits, allowed, ctx, enc in old_windows(qa, question, context, max_seq_len, doc_stride):
        ps, pe = softmax_over(s_logits, allowed), softmax_over(e_logits, allowed)
        null = min(null, ps[0] * pe[0])
        ps[0] = pe[0] = 0.0
        band = np.tril(np.triu(np.outer(ps, pe)), max_answer_len - 1)
        pos = np.flatnonzero(ctx)
        spans = sorted(((band[s, e], s, e) for s in pos for e in pos if s <= e < s + max_answer_len),
                       key=lambda x: (-x[0], x[1], x[2]))[:k]
        window = {}
        for score, s, e in spans:
            if align_to_words:
                a = enc.word_to_chars(enc.token_to_word(s), sequence_index=1)[0]
                b = enc.word_to_chars(enc.token_to_word(e), sequence_index=1)[1]
            else:
                a, b = enc.offsets[s][0], enc.offsets[e][1]
            key = context[a:b].lower()
            if key in window:
                window[key]["score"] += score
            else:
                window[key] = {"score": score, "start": a, "end": b, "answer": context[a:b]}
        for key, ans in window.items():
            if key not in found or ans["score"] > found[key]["score"]:
                found[key] = ans
    answers = list(found.values())
    if handle_impossible_answer:
        answers.append({"score": null, "start": 0, "end": 0, "answer": ""})
    return sorted(answers, key=lambda x: -x["score"])[:top_k]


def as_list(r):
    return r if isinstance(r, list) else [r]


def assert_same(got, want):
    got, want = as_list(got), as_list(want)
    assert len(got) == len(want)
    assert {k: got[0][k] for k in ("answer", "start", "end")} == {k: want[0][k] for k in ("answer", "start", "end")}
    # below the best, near-equal tiny scores may trade places between float32 and float64
    assert {(a["answer"], a["start"], a["end"]) for a in got} == {(a["answer"], a["start"], a["end"]) for a in want}
    for g, w in zip(got, want):
        assert g["score"] == pytest.approx(w["score"], rel=1e-4, abs=1e-12)


# --- Scores -----------------------------------------------------------------------------------------------------

def test_score_is_start_times_end_probability_by_hand(qa):
    q = "What is the city of Grace?"
    (s_logits, e_logits, allowed, ctx, enc), = old_windows(qa, q, PASSAGE)
    ps, pe = softmax_over(s_logits, allowed), softmax_over(e_logits, allowed)
    pos = np.flatnonzero(ctx)
    score, s, e = max((ps[s] * pe[e], s, e) for s in pos for e in pos if s <= e < s + 15)
    r = qa(question=q, context=PASSAGE, align_to_words=False)
    assert r == {"score": pytest.approx(score, rel=1e-5), "start": enc.offsets[s][0], "end": enc.offsets[e][1], "answer": "Vienna"}
    # the no-answer score: p_start[CLS] × p_end[CLS], in the same softmax
    null = next(a for a in qa(question=q, context=PASSAGE, handle_impossible_answer=True, top_k=100) if a["answer"] == "")
    assert null == {"score": pytest.approx(ps[0] * pe[0], rel=1e-5), "start": 0, "end": 0, "answer": ""}


def test_postprocess_on_made_up_logits_by_hand():
    """Question tokens with the highest logits (masked out of the softmax), one text at two places (one answer,
    scores added), two windows (the best window's score; the smaller null score)."""
    from albert_bench.features import FeatureConfig
    from albert_bench.qa_pipeline import Options, postprocess

    context = "Aa bb aa cc"
    ids = np.array([2, 10, 11, 3, 20, 21, 20, 22, 3])  # [CLS] q q [SEP] Aa bb aa cc [SEP]; CLS id 2
    offs = np.full((9, 2), -1)
    offs[4:8] = [(0, 2), (3, 5), (6, 8), (9, 11)]
    w1 = ([1.0, 9.0, 9.0, 5.0, 2.0, 0.5, 1.5, -1.0, 5.0], [1.5, 9.0, 9.0, 5.0, 1.0, 2.0, 0.5, 0.0, 5.0])
    w2 = ([3.0, 9.0, 9.0, 5.0, 0.0, 1.0, -1.0, 0.5, 5.0], [2.0, 9.0, 9.0, 5.0, 0.5, 1.0, 0.0, 1.5, 5.0])

    def probs(logits):  # softmax over CLS and the context, by hand
        e = [np.exp(x) for x in [logits[0]] + logits[4:8]]
        return [x / sum(e) for x in e]  # [CLS, Aa, bb, aa, cc]

    texts = {(1, 1): "Aa", (1, 2): "Aa bb", (2, 2): "bb", (2, 3): "bb aa", (3, 3): "aa", (3, 4): "aa cc", (4, 4): "cc"}
    want, nulls = {}, []
    for start, end in (w1, w2):
        ps, pe = probs(start), probs(end)
        nulls.append(ps[0] * pe[0])
        window = {}
        for (s, e), text in texts.items():  # spans of at most 2 tokens
            window[text.lower()] = window.get(text.lower(), 0.0) + ps[s] * pe[e]
        for k, v in window.items():
            want[k] = max(want.get(k, 0.0), v)
    opts = Options(top_k=20, max_answer_len=2, handle_impossible_answer=True, align_to_words=False, windows=FeatureConfig(), batch_size=None)
    windows = [(ids, offs, np.array(s, np.float32), np.array(e, np.float32)) for s, e in (w1, w2)]
    got = postprocess(context, windows, 2, opts, None)
    assert [a["answer"].lower() or "<null>" for a in got] == sorted(list(want) + ["<null>"], key=lambda k: -want.get(k, min(nulls)))
    for a in got:
        assert a["score"] == pytest.approx(want[a["answer"].lower()] if a["answer"] else min(nulls), rel=1e-6)
        assert context[a["start"]:a["end"]] == a["answer"] or (a["answer"], a["start"], a["end"]) == ("", 0, 0)
    assert next(a for a in got if a["answer"].lower() == "aa")["start"] == 0  # the first place found keeps it


@pytest.mark.parametrize("question, context, args", [
    ("What is the pet of Lena?", PASSAGE, {}),
    ("What is the pet of Lena?", PASSAGE, {"top_k": 3}),
    ("What is the pet of Lena?", PASSAGE, {"top_k": 4, "align_to_words": False}),
    ("What is the pet of Lena?", PASSAGE, {"top_k": 3, "max_answer_len": 1}),  # ham + ster → hamster, added up
    ("What is the job of Oscar?", PASSAGE, {"top_k": 3, "max_answer_len": 3, "align_to_words": False}),
    ("What is the pet of Grace?", NO_PET, {"top_k": 3, "handle_impossible_answer": True}),
    ("What is the favourite colour of Omar?", LONG, {"top_k": 3, "max_seq_len": 128, "doc_stride": 32, "handle_impossible_answer": True}),
    ("What is the favourite colour of Omar?", LONG, {"top_k": 2, "max_seq_len": 64, "doc_stride": 40, "max_question_len": 12}),
    ("What is the favourite colour of Omar?", MIDDLE, {"top_k": 3, "max_seq_len": 128, "doc_stride": 80, "max_question_len": 16}),
])
def test_answers_are_the_old_pipelines(qa, question, context, args):
    assert_same(qa(question=question, context=context, **args), old_answers(qa, question, context, **args))


def test_minilm_bert_windows_and_wordpiece_words(minilm_dir):
    """A BERT model (token type ids, WordPiece words split at punctuation), its QA head untrained."""
    from albert_bench import pipeline

    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the QA head is new: transformers says so
        bert = pipeline("question-answering", model=minilm_dir, device="cpu")
    ctx = "Julia's job, since 2019: teacher (maths) at St. Mary's school in Tchaikovsky-street. " * 3
    for args in ({"top_k": 5}, {"top_k": 5, "max_seq_len": 48, "doc_stride": 16, "max_question_len": 16, "handle_impossible_answer": True}):
        got = bert(question="What is Julia's job?", context=ctx, **args)
        assert_same(got, old_answers(bert, "What is Julia's job?", ctx, **args))
        assert all(ctx[a["start"]:a["end"]] == a["answer"] and 0 <= a["score"] <= 1 for a in got)


# --- Call forms and output shape --------------------------------------------------------------------------------

def test_every_call_form_gives_the_same_answer(qa):
    q = "What is the job of Oscar?"
    one = qa(question=q, context=PASSAGE)
    assert set(one) == KEYS and one["answer"] == word_of(PASSAGE, "pilot") == "pilot."
    assert isinstance(one["score"], float) and isinstance(one["start"], int) and isinstance(one["end"], int)
    assert 0.0 <= one["score"] <= 1.0 and PASSAGE[one["start"]:one["end"]] == one["answer"]
    d = {"question": q, "context": PASSAGE}
    # a list of one input gives one result, not a list: the old pipeline's rule
    for r in (qa(q, PASSAGE), qa(d), qa([d]), qa((x for x in [d])), qa(question=[q], context=PASSAGE), qa(question=[q], context=[PASSAGE])):
        assert r == one


def test_several_inputs_give_a_list_in_order(qa):
    qs = ["What is the city of Grace?", "What is the job of Oscar?", "What is the pet of Lena?"]
    want = [qa(question=q, context=PASSAGE) for q in qs]
    assert [w["answer"] for w in want] == [word_of(PASSAGE, w) for w in ("Vienna", "pilot", "hamster")]
    dicts = [{"question": q, "context": PASSAGE} for q in qs]
    for r in (qa(question=qs, context=PASSAGE), qa(question=qs, context=[PASSAGE] * 3), qa(dicts), qa(*dicts)):
        assert isinstance(r, list) and len(r) == 3
        for g, w in zip(r, want):  # batched with other questions, each answer is the one it gets alone
            assert (g["answer"], g["start"], g["end"]) == (w["answer"], w["start"], w["end"])
            assert g["score"] == pytest.approx(w["score"], rel=1e-4)
    nested = qa(question=qs[:2], context=PASSAGE, top_k=2)  # one list of answers per input
    assert [len(x) for x in nested] == [2, 2] and all(set(a) == KEYS for x in nested for a in x)


def test_top_k_ranks_and_stops_at_the_spans_there_are(qa):
    r = qa(question="What is the pet of Lena?", context=PASSAGE, top_k=5)
    assert isinstance(r, list) and len(r) == 5 and r[0]["answer"] == word_of(PASSAGE, "hamster")
    scores = [a["score"] for a in r]
    assert scores == sorted(scores, reverse=True) and all(0.0 <= s <= 1.0 for s in scores)
    assert len({a["answer"].lower() for a in r}) == 5  # one entry per answer text
    assert all(PASSAGE[a["start"]:a["end"]] == a["answer"] != "" for a in r)
    tiny = "Vienna is big."  # 4 tokens, 3 words ("big." is one): 6 spans of whole words, all different
    many = qa(question="What is the city of Grace?", context=tiny, top_k=1000)
    assert len(many) == 6 and all(tiny[a["start"]:a["end"]] == a["answer"] != "" for a in many)
    assert len(qa(question="What is the city of Grace?", context=tiny, top_k=1000, align_to_words=False)) == 10


def test_max_answer_len_caps_the_tokens_of_an_answer(qa):
    enc = qa.tokenizer(PASSAGE, add_special_tokens=False, return_offsets_mapping=True)
    offs = enc["offset_mapping"]
    for n in (1, 2, 4):
        r = qa(question="What is the pet of Lena?", context=PASSAGE, top_k=1000, max_answer_len=n, align_to_words=False)
        tokens = [sum(1 for a, b in offs if a < x["end"] and b > x["start"]) for x in r]
        assert max(tokens) == n, (n, tokens)  # every span is there (top_k 1000), none longer than n tokens


def test_align_to_words_grows_a_piece_to_its_word(qa):
    # "hamster" is two pieces (▁ham, ster); one-token answers show the difference
    aligned = qa(question="What is the pet of Lena?", context=PASSAGE, max_answer_len=1)
    pieces = qa(question="What is the pet of Lena?", context=PASSAGE, max_answer_len=1, align_to_words=False)
    assert aligned["answer"] == word_of(PASSAGE, "hamster") and pieces["answer"] in ("ham", "ster")
    assert aligned["score"] > pieces["score"]  # the two pieces' spans are one answer now: their scores added


def test_albert_words_are_what_lies_between_spaces_on_every_dev_context(dev, albert_tok):
    """The old pipeline aligned answers to the tokenizer's words; for ALBERT's real tokenizer those are the
    whitespace-delimited words (its converters' WhitespaceSplit + Metaspace), whichever release loads it."""
    def words(c):  # zero-width characters are dropped by ALBERT's normaliser (U+200B splits, like a space)
        return [list(m.span()) for m in re.finditer(r"[^\s\u200b-\u200f\u2060\ufeff]+", c)]

    def quirk(c, got, want):  # the normaliser's '' → " maps the quote to its second character
        return len(got) == len(want) and all(g == w or (g[1] == w[1] and c[w[0]:g[0]] == "'") for g, w in zip(got, want))

    contexts = sorted({e.context for e in dev.examples})
    differ = [c for c in contexts if not quirk(c, word_bounds(albert_tok, c).tolist(), words(c))]
    assert len(contexts) == 1204 and differ == []


@pytest.mark.parametrize("which", ["albert", "minilm"])
def test_word_alignment_is_the_tokenizers_word_to_chars(which, qa, minilm_dir):
    """Every span of every window, aligned from build_features' windows, equals Encoding.word_to_chars on the
    tokenizer's own overflowing windows; small windows, so words straddle window edges."""
    from albert_bench.features import FeatureConfig
    from albert_bench.model import load_tokenizer

    tok = qa.tokenizer if which == "albert" else load_tokenizer(minilm_dir)
    ctx = ("Tchaikovsky's hamster, antidisestablishmentarianism and (1990) co-operation; naïve café-owners "
           "don't re-enter St. Mary's. ") * 4
    q = "Who?"
    feats = build_features([Example("0", q, ctx, [])], tok, FeatureConfig(40, 12, 8))
    enc = tok(q, ctx, truncation="only_second", max_length=40, stride=12, return_overflowing_tokens=True, return_offsets_mapping=True)
    assert len(feats) == len(enc["input_ids"]) > 3
    words = word_bounds(tok, ctx)
    for w, e in enumerate(enc.encodings):
        offs = feats.offsets[w]
        pos = np.flatnonzero(offs[:, 0] >= 0)
        assert pos.tolist() == [i for i, s in enumerate(enc.sequence_ids(w)) if s == 1]
        a, b = np.meshgrid(pos, pos, indexing="ij")
        a, b = a[a <= b], b[a <= b]
        got = align_to_words(words, offs[a, 0], offs[b, 0], offs[pos[0], 0], offs[pos[-1], 1])
        want = ([e.word_to_chars(e.token_to_word(s), sequence_index=1)[0] for s in a],
                [e.word_to_chars(e.token_to_word(t), sequence_index=1)[1] for t in b])
        assert got[0].tolist() == want[0] and got[1].tolist() == want[1]


# --- No answer, windows ------------------------------------------------------------------------------------------

def test_empty_answer_only_with_handle_impossible_answer(qa):
    q = "What is the pet of Grace?"
    plain = qa(question=q, context=NO_PET, top_k=20)
    assert all(a["answer"] != "" for a in plain)
    r = qa(question=q, context=NO_PET, handle_impossible_answer=True)
    assert r == {"score": pytest.approx(r["score"]), "start": 0, "end": 0, "answer": ""} and 0.5 < r["score"] <= 1.0
    answered = qa(question="What is the job of Oscar?", context=NO_PET, handle_impossible_answer=True)
    assert answered["answer"] == word_of(NO_PET, "pilot")


def test_long_context_is_answered_across_windows(qa):
    q = "What is the favourite colour of Omar?"
    at = MIDDLE.index("purple")
    powered = []  # per setting: whether its windows' sum and max differ, so that the check below tells them apart
    for max_seq_len, doc_stride, windows, holding in ((128, 32, 6, 2), (128, 96, 20, 6), (64, 40, 36, 4)):
        enc = qa.tokenizer(q, MIDDLE, truncation="only_second", max_length=max_seq_len, stride=doc_stride,
                           return_overflowing_tokens=True, return_offsets_mapping=True)
        hold = [w for w in range(len(enc["input_ids"])) if any(a <= at and b >= at + 6 for (a, b), seq in zip(enc["offset_mapping"][w], enc.sequence_ids(w)) if seq == 1)]
        assert len(enc["input_ids"]) >= windows and len(hold) >= holding
        # token spans (no word alignment): the check is about windows, and "purple." would add two spans' scores
        r = qa(question=q, context=MIDDLE, max_seq_len=max_seq_len, doc_stride=doc_stride, max_question_len=16, align_to_words=False)
        assert r["answer"] == "purple" and (r["start"], r["end"]) == (at, at + 6)
        # "purple" is in several windows' overlap: its score is the best window's p_start·p_end, a probability (the
        # old pipeline added the windows' scores up: about 6 with doc_stride 96), however sure this model is
        per_window = []
        for s, e, allowed, _, encoding in old_windows(qa, q, MIDDLE, max_seq_len, doc_stride):
            first, last = encoding.char_to_token(at, 1), encoding.char_to_token(at + 5, 1)
            if first is not None and last is not None:
                per_window.append(softmax_over(s, allowed)[first] * softmax_over(e, allowed)[last])
        assert len(per_window) >= holding and r["score"] <= 1.0
        assert r["score"] == pytest.approx(max(per_window), rel=1e-4)
        powered.append(sum(per_window) > max(per_window) * (1 + 1e-3))
    # A model sure in one window gives the others ~0 and sum = max there; among the settings (20 windows hold it
    # at doc_stride 96) some must not be, or the check above could not catch a sum
    assert any(powered), powered
    # the no-answer score is the smallest over the windows: here, the one window that holds the answer
    null = next(a for a in qa(question=q, context=MIDDLE, max_seq_len=128, doc_stride=32, top_k=100, handle_impossible_answer=True) if a["answer"] == "")
    per_window = [softmax_over(s, al)[0] * softmax_over(e, al)[0] for s, e, al, _, _ in old_windows(qa, q, MIDDLE, 128, 32)]
    assert null["score"] == pytest.approx(min(per_window), rel=1e-4) and min(per_window) < max(per_window) * (1 - 1e-3)


def test_long_questions_are_cut_to_max_question_len(qa):
    q = "What is the favourite colour of Omar? " + "Tell me please. " * 40  # about 100 tokens
    r = qa(question=q, context=LONG, max_seq_len=128, doc_stride=32, max_question_len=16)
    assert r["answer"] == word_of(LONG, "purple")


# --- Arguments and errors ------------------------------------------------------------------------------------------

def test_pipeline_arguments_are_call_defaults_and_topk_still_works(trained, qa):
    from albert_bench import pipeline

    three = pipeline("question-answering", model=str(trained[0] / "best"), device="cpu", top_k=3, max_answer_len=1)
    r = three(question="What is the pet of Lena?", context=PASSAGE)
    assert len(r) == 3 and r[0]["answer"] == word_of(PASSAGE, "hamster")
    one = three(question="What is the pet of Lena?", context=PASSAGE, top_k=1, max_answer_len=None)  # None: not given
    assert one == qa(question="What is the pet of Lena?", context=PASSAGE, max_answer_len=1)
    with pytest.warns(UserWarning, match="topk parameter is deprecated"):
        two = qa(question="What is the pet of Lena?", context=PASSAGE, topk=2)
    assert two == qa(question="What is the pet of Lena?", context=PASSAGE, top_k=2)
    assert qa.task == "question-answering" and qa.tokenizer is qa.answerer.tokenizer and qa.model is qa.answerer.model


def test_a_model_object_with_its_tokenizer(trained):
    from albert_bench import pipeline
    from albert_bench.model import load_model

    best = str(trained[0] / "best")
    model, _ = load_model(best)
    r = pipeline("question-answering", model=model, tokenizer=best, device="cpu")(question="What is the city of Grace?", context=PASSAGE)
    assert r["answer"] == word_of(PASSAGE, "Vienna")


@pytest.mark.filterwarnings("ignore:topk parameter is deprecated")
@pytest.mark.parametrize("args, names", [
    ({"top_k": 0}, "top_k"), ({"top_k": -2}, "top_k"), ({"top_k": 2.5}, "top_k"), ({"top_k": True}, "top_k"),
    ({"topk": 0}, "top_k"), ({"max_answer_len": 0}, "max_answer_len"), ({"max_answer_len": "15"}, "max_answer_len"),
    ({"doc_stride": 400}, "doc_stride"), ({"max_seq_len": 128, "doc_stride": 200}, "doc_stride"),
    ({"max_seq_len": 128}, "doc_stride"),  # the old default doc_stride 64 leaves no room for 64-token questions
    ({"max_seq_len": 64, "doc_stride": 40, "max_question_len": 30}, "doc_stride"),
    ({"max_seq_len": 60, "max_question_len": 58, "doc_stride": 0}, "max_question_len"),
    ({"doc_stride": -1}, "doc_stride"), ({"max_seq_len": 0}, "max_seq_len"), ({"max_question_len": 0}, "max_question_len"),
    ({"handle_impossible_answer": "yes"}, "handle_impossible_answer"), ({"align_to_words": "no"}, "align_to_words"),
    ({"batch_size": 0}, "batch_size"), ({"padding": "longest"}, "padding"), ({"tok_k": 3}, "tok_k"),
])
def test_bad_arguments_are_one_line_naming_them(qa, args, names):
    with pytest.raises(PipelineError) as e:
        qa(question="What is the city of Grace?", context=PASSAGE, **args)
    msg = str(e.value)
    assert isinstance(e.value, BenchError) and isinstance(e.value, ValueError)  # code that caught ValueError still does
    assert names in msg and "\n" not in msg


def test_questions_that_fit_once_max_question_len_is_lowered(qa):
    r = qa(question="What is the favourite colour of Omar?", context=MIDDLE, max_seq_len=64, doc_stride=40, max_question_len=12)
    assert r["answer"] == word_of(MIDDLE, "purple")


@pytest.mark.parametrize("args, kwargs, error, words", [
    ((), {}, PipelineError, "no input"),
    ((), {"question": "Who?"}, PipelineError, "question= alone"),
    ((), {"context": PASSAGE}, PipelineError, "context= alone"),
    ((), {"question": ["a", "b"], "context": [PASSAGE]}, PipelineError, "2 questions and context= 1"),
    ((), {"question": 3, "context": PASSAGE}, PipelineError, "strings or lists"),
    (("Who?",), {}, PipelineError, "one string"),
    (({"question": "Who?"},), {}, PipelineKeyError, "'context'"),
    (({"context": PASSAGE},), {}, PipelineKeyError, "'question'"),
    (({"question": "", "context": PASSAGE},), {}, PipelineError, "`question` cannot be empty"),
    (({"question": "Who?", "context": None},), {}, PipelineError, "`context` cannot be None"),
    (({"question": "Who?", "context": 7},), {}, PipelineError, "`context` must be a string"),
    (([{"question": "Who?", "context": PASSAGE}, "Who?"],), {}, PipelineError, "input 1 is a str"),
    ((42,), {}, PipelineError, "int is not an input"),
    (("Who?", PASSAGE), {"question": "Who?"}, PipelineError, "one way"),
])
def test_bad_inputs_are_one_line(qa, args, kwargs, error, words):
    with pytest.raises(error) as e:
        qa(*args, **kwargs)
    assert words in str(e.value) and "\n" not in str(e.value) and isinstance(e.value, (BenchError, ValueError))
    if error is PipelineKeyError:
        assert isinstance(e.value, KeyError) and str(e.value).startswith("input 0")  # a KeyError, as the old one, unquoted


def test_other_tasks_and_missing_models_are_one_line(trained, tmp_path):
    from albert_bench import pipeline

    with pytest.raises(BenchError, match=r"^task 'text-classification': albert_bench.pipeline only provides 'question-answering'"):
        pipeline("text-classification", model=str(trained[0] / "best"))
    with pytest.raises(BenchError, match="no such model directory"):
        pipeline("question-answering", model=str(tmp_path / "nowhere"))
    with pytest.raises(PipelineError, match="model= is missing"):
        pipeline("question-answering")
    with pytest.raises(PipelineError, match="unknown argument 'revision' to pipeline"):
        pipeline("question-answering", model=str(trained[0] / "best"), revision="main")
    with pytest.raises(PipelineError, match="top_k=0"):  # bad defaults fail when the pipeline is made
        pipeline("question-answering", model=str(trained[0] / "best"), top_k=0)
    with pytest.raises(PipelineError, match="batch_size=0"):
        pipeline("question-answering", model=str(trained[0] / "best"), batch_size=0)


def test_the_package_exports_pipeline_lazily():
    code = ("import sys, albert_bench\n"
            "assert 'torch' not in sys.modules and 'albert_bench.qa_pipeline' not in sys.modules\n"
            "from albert_bench import pipeline\n"
            "import albert_bench.qa_pipeline as m\n"
            "assert pipeline is m.pipeline is albert_bench.pipeline and callable(pipeline)\n"
            "assert albert_bench.__version__\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_hostile_arguments_are_refused_or_cut_without_harm(qa):
    import tracemalloc

    q = "What is the city of Grace?"
    # max_answer_len past the window changes no answer: cut to the window, not 10**6 candidates per token
    tracemalloc.start()
    huge = qa(question=q, context=PASSAGE, max_answer_len=10**6, top_k=3)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert huge == qa(question=q, context=PASSAGE, max_answer_len=384, top_k=3) and peak < 200 * 2**20
    # a lone surrogate, in either call form: one PipelineError naming where
    for call in (lambda: qa(question="Who\ud800?", context=PASSAGE), lambda: qa({"question": q, "context": "Vienna \udfff."})):
        with pytest.raises(PipelineError, match=r"lone surrogate at character \d+"):
            call()
    # more tokens per window than the model has positions: refused before any forward pass
    positions = qa.model.config.max_position_embeddings
    with pytest.raises(PipelineError, match=f"max_seq_len={positions + 1}: the model has {positions} token positions"):
        qa(question=q, context=PASSAGE, max_seq_len=positions + 1, doc_stride=16)
