import numpy as np
import pytest

from albert_bench.cli import main
from albert_bench.decode import oracle_check
from albert_bench.data import Answer, Example
from albert_bench.features import FeatureConfig, build_features, truncate_questions
from albert_bench.errors import BenchError


def _example(context, answer, question="Where is the café?", id="x"):
    start = context.index(answer) if answer else 0
    return Example(id, question, context, [Answer(answer, start)] if answer else [])


def _read_back(ex, feats, f):
    s, e = feats.start_positions[f], feats.end_positions[f]
    return ex.context[feats.offsets[f][s, 0]:feats.offsets[f][e, 1]]


def test_question_first_context_second(albert_tok):
    ex = _example("Le Café Müller is in Zürich.", "Zürich")
    f = build_features([ex], albert_tok)
    toks = albert_tok.convert_ids_to_tokens(f.input_ids[0].tolist())
    assert toks[0] == "[CLS]" and toks[1:6] == ["▁where", "▁is", "▁the", "▁cafe", "?"]
    assert f.token_type_ids[0][:7].tolist() == [0] * 7 and f.token_type_ids[0][-2] == 1
    assert (f.offsets[0][:7] == -1).all()  # question tokens never belong to the context


def test_answer_cut_from_original_text_keeps_case_and_accents(albert_tok):
    ex = _example("Le Café Müller is in Zürich, they say.", "Zürich")
    f = build_features([ex], albert_tok)
    assert _read_back(ex, f, 0) == "Zürich"  # decoding the tokens would give "zurich"


def test_long_context_windows_and_labels(albert_tok):
    filler = " ".join(f"word{i}" for i in range(600))
    ex = _example(filler + " The treasure is buried under the old oak tree. " + filler, "under the old oak tree")
    cfg = FeatureConfig(max_seq_length=128, doc_stride=32)
    f = build_features([ex], albert_tok, cfg)
    assert len(f) > 10 and all(len(x) <= 128 for x in f.input_ids)
    labelled = [i for i in range(len(f)) if f.start_positions[i] != f.cls_index[i]]
    assert labelled, "the answer must be labelled in some window"
    assert all(_read_back(ex, f, i) == "under the old oak tree" for i in labelled)
    # windows overlap by doc_stride context tokens
    ctx0 = f.offsets[0][f.offsets[0][:, 0] >= 0]
    ctx1 = f.offsets[1][f.offsets[1][:, 0] >= 0]
    assert (ctx0[-32:] == ctx1[:32]).all()
    # an answer cut by a window edge is labelled CLS, never a partial span
    assert all(f.start_positions[i] == f.end_positions[i] == 0 for i in range(len(f)) if i not in labelled)


def test_unanswerable_labels_cls(albert_tok):
    f = build_features([_example("Nothing to see here.", "")], albert_tok)
    assert f.start_positions.tolist() == [0] and f.end_positions.tolist() == [0]


def test_long_question_truncated_to_max_query_length(albert_tok):
    q = "why " * 200 + "?"
    assert len(albert_tok(truncate_questions([q], albert_tok, 64)[0], add_special_tokens=False)["input_ids"]) == 64
    ex = _example("Because it rains in Spain.", "it rains", question=q)
    f = build_features([ex], albert_tok)
    assert (f.token_type_ids[0] == 0).sum() == 64 + 2  # CLS + 64 question tokens + SEP
    assert _read_back(ex, f, 0) == "it rains"


def test_bad_window_settings():
    with pytest.raises(BenchError) as e:
        FeatureConfig(max_seq_length=64, max_query_length=64)
    assert str(e.value) == "max_query_length (--max-query-length) 64 leaves no room for context in max_seq_length (--max-seq-length) 64; lower the one or raise the other"
    FeatureConfig(max_seq_length=68, max_query_length=64, doc_stride=0)  # exactly room for 1 context token
    with pytest.raises(BenchError) as e:
        FeatureConfig(max_seq_length=128, doc_stride=61, max_query_length=64)
    assert str(e.value) == "doc_stride (--doc-stride) 61 must be below max_seq_length - max_query_length - 3 = 61; lower it"
    assert FeatureConfig(max_seq_length=128, doc_stride=60, max_query_length=64).doc_stride == 60


def test_window_defaults_are_the_readmes_384_128_64_shortest():
    assert FeatureConfig() == FeatureConfig(384, 128, 64, "shortest")


def test_dev_round_trip_and_oracle_ceiling(dev, albert_tok):
    res = oracle_check(dev.examples, albert_tok, FeatureConfig(384, 128, 64), dev.data)
    rt, o = res["round_trip"], res["oracle"]
    print(res)
    assert rt["labelled"] == rt["answerable"] == 5928
    assert rt["normalized_text"] >= 99.9
    assert o["exact"] >= 99.9 and o["f1"] >= o["exact"]
    assert o["NoAns_exact"] == 100.0


def test_check_cli_prints_ceiling(dev_file, capsys, tmp_path):
    from tests.conftest import ALBERT_DIR
    import json

    small = tmp_path / "small.json"
    raw = json.load(open(dev_file))
    small.write_text(json.dumps({"version": "v2.0", "data": raw["data"][:1]}))
    assert main(["data", "check", str(small), "--tokenizer", str(ALBERT_DIR), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["oracle"]["exact"] >= 99.0 and out["round_trip"]["answerable"] > 0


# --- the fast path (each context tokenized once) against the tokenizer's own pair encoding --------------------

from albert_bench import features as F  # noqa: E402
from albert_bench.model import load_tokenizer  # noqa: E402


def sentencepiece_window_count(examples, encode, cfg=FeatureConfig()):
    """How many windows the dev set makes, from SentencePiece's own token counts and the window arithmetic of
    run_qa.py (`[CLS] q [SEP] c [SEP]`, the context cut into `room`-token spans `room - doc_stride` apart)."""
    n = 0
    for e in examples:
        room = cfg.max_seq_length - 3 - min(len(encode(e.question.lstrip())), cfg.max_query_length)
        c = len(encode(e.context))
        n += 1 if c <= room else 1 + -(-(c - room) // (room - cfg.doc_stride))
    return n


def test_fast_features_byte_identical_to_pair_tokenization_on_dev(dev, albert_tok, sentencepiece_ids):
    fast = F.build_features(dev.examples, albert_tok)
    ref = F.build_features_reference(dev.examples, albert_tok)
    # 12,168 at 384/128 with SentencePiece's tokens; transformers 5.24's tokenizer made 12,155 (it split at "." etc.)
    assert len(fast) == sentencepiece_window_count(dev.examples, sentencepiece_ids)
    assert F.features_equal(fast, ref) is None


@pytest.mark.parametrize("cfg", [FeatureConfig(128, 32, 64), FeatureConfig(200, 0, 16), FeatureConfig(96, 40, 24)])
def test_fast_features_identical_with_small_windows(dev, albert_tok, cfg):
    ex = dev.examples[:600] + [_example("Because it rains in Spain. " * 60, "it rains", question="why " * 90 + "?")]
    fast, ref = F.build_features(ex, albert_tok, cfg), F.build_features_reference(ex, albert_tok, cfg)
    assert len(fast) > len(ex)  # many contexts span several windows here
    assert F.features_equal(fast, ref) is None


def test_fast_features_identical_with_wordpiece_tokenizer(dev, minilm_dir):
    tok = load_tokenizer(minilm_dir)
    ex = dev.examples[:1500]
    assert F.features_equal(F.build_features(ex, tok), F.build_features_reference(ex, tok)) is None


def test_features_equal_notices_a_difference(dev, albert_tok):
    ex = dev.examples[:50]
    a, b = F.build_features(ex, albert_tok), F.build_features(ex, albert_tok)
    b.input_ids[7] = b.input_ids[7].copy()
    b.input_ids[7][3] += 1
    assert "input_ids differs at window 7" in F.features_equal(a, b)
    b = F.build_features(ex, albert_tok)
    b.end_positions[3] += 1
    assert "end_positions" in F.features_equal(a, b)


def test_feature_cache_second_run_does_not_tokenize(dev, albert_tok, tmp_path, monkeypatch):
    ex = dev.examples[:300]
    first = F.cached_features(ex, albert_tok, cache_dir=str(tmp_path))
    files = list(tmp_path.glob("*.npz"))
    assert len(files) == 1

    def no_tokenizing(*a, **k):
        raise AssertionError("tokenized although cached")

    monkeypatch.setattr(F, "build_features", no_tokenizing)
    again = F.cached_features(ex, albert_tok, cache_dir=str(tmp_path))
    assert F.features_equal(first, again) is None
    # other settings, other questions or another tokenizer are other keys
    key = F.features_cache_key(ex, albert_tok, FeatureConfig())
    assert key != F.features_cache_key(ex, albert_tok, FeatureConfig(256, 64, 64))
    assert key != F.features_cache_key(ex[:-1], albert_tok, FeatureConfig())
    changed = [*ex[:-1], _example(ex[-1].context + " More.", "", question=ex[-1].question, id=ex[-1].id)]
    assert key != F.features_cache_key(changed, albert_tok, FeatureConfig())


def test_feature_cache_key_depends_on_tokenizer(dev, albert_tok, minilm_dir):
    ex = dev.examples[:20]
    assert F.features_cache_key(ex, albert_tok, FeatureConfig()) != F.features_cache_key(ex, load_tokenizer(minilm_dir), FeatureConfig())


def test_feature_cache_key_changes_when_any_answer_changes(dev, albert_tok):
    """Labels come from the answers: a key that left them out would serve features labelled for other answers."""
    import dataclasses

    from albert_bench.data import Answer

    ex = [dataclasses.replace(e, answers=list(e.answers)) for e in dev.examples[:30]]
    key = F.features_cache_key(ex, albert_tok, FeatureConfig())
    i = next(i for i, e in enumerate(ex) if len(e.answers) > 1)
    changes = {
        "start": lambda a: Answer(a.text, a.start + 1),
        "text": lambda a: Answer(a.text + "s", a.start),
    }
    for name, change in changes.items():
        for k in range(len(ex[i].answers)):  # any answer, not just the first
            changed = [dataclasses.replace(e) for e in ex]
            changed[i] = dataclasses.replace(ex[i], answers=[change(a) if j == k else a for j, a in enumerate(ex[i].answers)])
            assert F.features_cache_key(changed, albert_tok, FeatureConfig()) != key, (name, k)
    dropped = list(ex)
    dropped[i] = dataclasses.replace(ex[i], answers=ex[i].answers[:-1])
    assert F.features_cache_key(dropped, albert_tok, FeatureConfig()) != key
    assert F.features_cache_key([dataclasses.replace(e) for e in ex], albert_tok, FeatureConfig()) == key  # and only then


def test_damaged_cache_file_is_rebuilt(dev, albert_tok, tmp_path):
    ex = dev.examples[:40]
    first = F.cached_features(ex, albert_tok, cache_dir=str(tmp_path))
    (path,) = tmp_path.glob("*.npz")
    path.write_bytes(path.read_bytes()[:100])
    logs = []
    again = F.cached_features(ex, albert_tok, cache_dir=str(tmp_path), log=logs.append)
    assert F.features_equal(first, again) is None and "rebuilding" in logs[0]
    assert F.features_equal(first, F.load_features(str(path))) is None


def test_feature_cache_off(dev, albert_tok, tmp_path, monkeypatch):
    F.cached_features(dev.examples[:10], albert_tok, cache_dir="")
    monkeypatch.setenv("ALBERT_BENCH_CACHE", str(tmp_path))
    monkeypatch.setenv("ALBERT_BENCH_FEATURE_CACHE", "0")
    F.cached_features(dev.examples[:10], albert_tok)
    assert not list(tmp_path.rglob("*.npz"))


def test_cache_key_tells_apart_which_context_a_question_reuses(albert_tok):
    # Two same-length contexts; the third question refers to the first in one set and the second in the other.
    x, y = "Alpha is red.", "Gamma is tan."
    a = [_example(x, "red", id="1"), _example(y, "tan", id="2"), _example(x, "", id="3")]
    b = [_example(x, "red", id="1"), _example(y, "tan", id="2"), _example(y, "", id="3")]
    assert F.features_cache_key(a, albert_tok, FeatureConfig()) != F.features_cache_key(b, albert_tok, FeatureConfig())


def test_empty_feature_set_round_trips_through_cache(albert_tok, tmp_path, monkeypatch):
    assert len(F.cached_features([], albert_tok, cache_dir=str(tmp_path))) == 0
    monkeypatch.setattr(F, "build_features", lambda *a, **k: (_ for _ in ()).throw(AssertionError("rebuilt: the cache did not load")))
    again = F.cached_features([], albert_tok, cache_dir=str(tmp_path))  # read back, not rebuilt as damaged
    assert len(again) == 0 and again.end_positions.shape == (0,) and again.flat_offsets().shape == (0, 2)


def test_byte_level_bpe_with_trimmed_offsets_uses_the_reference(dev):
    """RoBERTa-style post-processors trim the first token of each overflow window: the windows are not cut from
    one encoding there, so the result still equals the tokenizer's own pair encoding."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    texts = [e.context for e in dev.examples[:400:10]] + [e.question for e in dev.examples[:400]]
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=800, special_tokens=["<s>", "<pad>", "</s>", "<unk>"]))
    bpe.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), trim_offsets=True, add_prefix_space=True)
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<s>", eos_token="</s>", sep_token="</s>", cls_token="<s>",
                                  unk_token="<unk>", pad_token="<pad>")
    ex, cfg = dev.examples[:200], FeatureConfig(128, 32, 32)
    assert F._trims_offsets(tok) and not F._trims_offsets(load_tokenizer(str(__import__("tests.conftest", fromlist=["ALBERT_DIR"]).ALBERT_DIR)))
    assert F.features_equal(F.build_features(ex, tok, cfg), F.build_features_reference(ex, tok, cfg)) is None


def test_question_that_grows_when_recut_still_matches_on_short_contexts(albert_tok):
    # Cutting a question on the string can re-tokenize to one token more than max_query_length; with a context
    # that fits in one window no stride arithmetic is needed, and both paths give that one window.
    cfg = FeatureConfig(64, 52, 8)
    ex = [_example("Polish words.", "Polish", question='What is Polish for "female"? ' * 3)]
    assert F.features_equal(F.build_features(ex, albert_tok, cfg), F.build_features_reference(ex, albert_tok, cfg)) is None


def test_the_readme_states_the_oracle_figure_data_check_prints(dev_file, capsys):
    from pathlib import Path

    from tests.conftest import ALBERT_DIR

    assert main(["data", "check", dev_file, "--tokenizer", str(ALBERT_DIR)]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "oracle ceiling" in x)
    em, f1 = line.split()[2], line.split()[4]
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert f"the oracle ceiling is {em} EM / {f1} F1" in readme, (em, f1)


def test_label_rule_first_labels_the_first_gold_answer_and_keys_the_cache_apart(dev, albert_tok):
    """`--label-answer first` (run_qa.py's rule) against the default shortest counted answer."""
    from albert_bench.features import FeatureConfig, build_features, features_cache_key, label_answer

    ex = next(e for e in dev.examples if len({a.text for a in e.answers}) > 1 and len(e.answers[0].text) > min(len(a.text) for a in e.answers))
    assert label_answer(ex, "first") == ex.answers[0] != label_answer(ex, "shortest")
    feats = {r: build_features([ex], albert_tok, FeatureConfig(label_rule=r)) for r in ("shortest", "first")}
    assert (feats["first"].start_positions, feats["first"].end_positions) != (feats["shortest"].start_positions, feats["shortest"].end_positions)
    assert features_cache_key([ex], albert_tok, FeatureConfig(label_rule="first")) != features_cache_key([ex], albert_tok, FeatureConfig())
    with pytest.raises(BenchError, match="--label-answer 'last': choose one of shortest, first"):
        FeatureConfig(label_rule="last")


def _windows(rows):
    """Features by hand: rows of (example index, offsets, start, end); CLS at 0."""
    import numpy as np

    from albert_bench.features import Features

    offs = [np.array(o, dtype=np.int32) for _, o, _, _ in rows]
    return Features([np.zeros(len(o), np.int64) for o in offs], [np.zeros(len(o), np.int64) for o in offs], offs,
                    np.array([r[0] for r in rows]), np.array([r[2] for r in rows]), np.array([r[3] for r in rows]), np.zeros(len(rows), np.int64))


def test_label_round_trip_counts_what_reads_back_exactly_and_normalized():
    from albert_bench.data import Answer, Example
    from albert_bench.features import label_round_trip

    ctx = "The quick fox. The lazy dog."
    ex = [Example("a", "?", ctx, [Answer("fox", 10)]), Example("b", "?", ctx, [Answer("dog", 24)]),
          Example("c", "?", ctx, [Answer("quick", 4)]), Example("d", "?", ctx, [])]
    cls = [-1, -1]
    feats = _windows([(0, [cls, [10, 13]], 1, 1),  # "fox": exact
                      (0, [cls, [0, 3], [10, 13]], 2, 2),  # a second window of it, exact too
                      (1, [cls, [23, 27]], 1, 1),  # " dog": right only once normalized
                      (2, [cls, [4, 9]], 0, 0),  # labelled at CLS: not labelled
                      (3, [cls], 0, 0)])
    assert label_round_trip(ex, feats) == {"answerable": 3, "labelled": 2, "exact_text": 100 / 3, "normalized_text": 200 / 3, "unlabelled_ids": ["c"]}
    one_bad_window = _windows([(0, [cls, [10, 13]], 1, 1), (0, [cls, [4, 9]], 1, 1)])  # every window of an example must read back
    assert label_round_trip(ex[:1], one_bad_window)["exact_text"] == 0.0
    assert label_round_trip(ex[:1], _windows([(0, [cls, [10, 13]], 1, 1)]))["exact_text"] == 100.0
    assert label_round_trip(ex[3:], _windows([(0, [cls], 0, 0)])) == {"answerable": 0, "labelled": 0, "exact_text": 0.0, "normalized_text": 0.0, "unlabelled_ids": []}


def test_flat_offsets_of_no_windows_is_empty():
    assert _windows([]).flat_offsets().shape == (0, 2)
    f = _windows([(0, [[-1, -1], [0, 3]], 1, 1), (0, [[-1, -1]], 0, 0)])
    assert f.flat_offsets().tolist() == [[-1, -1], [0, 3], [-1, -1]] and f.flat_offsets() is f.flat_offsets()  # computed once


@pytest.mark.parametrize("which", ["albert", "minilm"])
def test_the_fast_path_is_taken_for_sentencepiece_and_wordpiece(dev, albert_tok, minilm_dir, monkeypatch, which):
    """Equal features prove nothing about speed: the fast path could fall back to the reference unnoticed. The
    template is read off the tokenizer ([CLS] q [SEP] c [SEP]), and build_features never calls the reference."""
    tok = albert_tok if which == "albert" else load_tokenizer(str(minilm_dir))
    tpl = F._pair_template(tok)
    assert tpl is not None and tpl.prefix.tolist() == [tok.cls_token_id] and tpl.mid.tolist() == [tok.sep_token_id]
    assert tpl.suffix.tolist() == [tok.sep_token_id] and (tpl.q_type, tpl.c_type) == (0, 1)
    assert not F._trims_offsets(tok)

    def refuse(*a, **k):
        raise AssertionError("the reference path ran")
    monkeypatch.setattr(F, "build_features_reference", refuse)
    feats = F.build_features(dev.examples[:50], tok, FeatureConfig(128, 32, 64))
    assert len(feats) > 50 and all(feats.input_ids[i][feats.cls_index[i]] == tok.cls_token_id for i in range(len(feats)))


def test_count_windows_is_what_build_features_cuts(dev, albert_tok):
    ex = dev.examples[:300]
    cfg = FeatureConfig(128, 32, 64)
    counts = F.count_windows([(e.question, e.context) for e in ex], albert_tok, cfg)
    feats = F.build_features(ex, albert_tok, cfg)
    assert counts == np.bincount(feats.example_index, minlength=len(ex)).tolist() and max(counts) > 1


def test_a_question_that_leaves_no_room_beyond_the_stride_is_one_line():
    assert F.window_spans(10, 20, 5, 3) == [(0, 10)]  # fits: no stride needed
    assert F.window_spans(30, 20, 5, 3) == [(0, 15), (12, 27), (24, 30)]
    with pytest.raises(BenchError) as e:
        F.window_spans(30, 20, 12, 8, "question q7")
    assert str(e.value) == "question q7: 12 tokens leave 8 for the context, not more than doc_stride 8; lower --max-query-length or --doc-stride"


def test_windows_do_not_depend_on_truncation_or_padding_left_on_the_tokenizer(albert_tok, dev):
    """An earlier call (transformers' own, with truncation) can leave the Rust tokenizer truncating or padding:
    windows and window counts are the same as from a clean tokenizer."""
    from albert_bench.features import FeatureConfig, build_features, count_windows

    cfg, examples = FeatureConfig(96, 32, 24), dev.examples[:60]
    pairs = [(e.question, e.context) for e in examples]
    clean, counted = build_features(examples, albert_tok, cfg), count_windows(pairs, albert_tok, cfg)
    backend = albert_tok.backend_tokenizer
    try:
        for leave in (lambda: backend.enable_truncation(8), lambda: backend.enable_padding(length=200)):
            leave()
            assert count_windows(pairs, albert_tok, cfg) == counted
            leave()
            left = build_features(examples, albert_tok, cfg)
            assert [x.tolist() for x in left.input_ids] == [x.tolist() for x in clean.input_ids]
            assert [x.tolist() for x in left.offsets] == [x.tolist() for x in clean.offsets]
    finally:
        backend.no_truncation()
        backend.no_padding()
