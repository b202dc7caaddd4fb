import pytest

from albert_bench.cli import main, oracle_check
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
    with pytest.raises(BenchError):
        FeatureConfig(max_seq_length=64, max_query_length=64)
    with pytest.raises(BenchError):
        FeatureConfig(max_seq_length=128, doc_stride=100, max_query_length=64)


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
