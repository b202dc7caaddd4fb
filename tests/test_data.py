import json

import pytest

from albert_bench.cli import main
from albert_bench.data import parse_squad, resolve, split_by_article, stats
from albert_bench.errors import BenchError


def squad(*qas, context="The quick brown fox jumps over the lazy dog."):
    return {"version": "v2.0", "data": [{"title": "T", "paragraphs": [{"context": context, "qas": list(qas)}]}]}


def qa(id, answers=(), q="What?"):
    return {"id": id, "question": q, "answers": [{"text": t, "answer_start": s} for t, s in answers], "is_impossible": not answers}


def test_dev_counts(dev):
    st = stats(dev)
    assert {k: st[k] for k in ("articles", "paragraphs", "questions", "answerable", "unanswerable", "answers")} == {
        "articles": 35, "paragraphs": 1204, "questions": 11873, "answerable": 5928, "unanswerable": 5945, "answers": 20302}
    assert st["repaired_offsets"] == 0 and st["unfound_answers"] == 0
    # every answer's repaired offset points at its text
    assert all(e.context[a.start:a.end] == a.text for e in dev.examples for a in e.answers)


def test_stats_cli_json_with_tokenizer(dev_file, capsys):
    from tests.conftest import ALBERT_DIR

    assert main(["data", "stats", dev_file, "--json", "--tokenizer", str(ALBERT_DIR)]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["questions"] == 11873 and st["unanswerable"] == 5945
    assert 100 < st["tokens"]["context"]["p50"] < st["tokens"]["context"]["max"]


def test_repair_takes_the_occurrence_nearest_the_stated_offset():
    context = "fox one. fox two. fox three. fox four."
    assert [i for i in range(len(context)) if context.startswith("fox", i)] == [0, 9, 18, 29]
    # stated 14 and 24: more than two characters off, so the nearest occurrence wins, not the first
    sq = parse_squad(squad(qa("a", [("fox", 14)]), qa("b", [("fox", 24)]), context=context))
    assert [e.answers[0].start for e in sq.examples] == [18, 29] and sq.repaired == 2


def test_offsets_off_by_one_or_two_are_repaired_and_counted():
    sq = parse_squad(squad(qa("a", [("quick", 3)]), qa("b", [("fox", 18)]), qa("c", [("lazy", 35)])))
    assert sq.repaired == 2
    assert [(e.answers[0].start) for e in sq.examples] == [4, 16, 35]


@pytest.mark.parametrize("context, text, stated, start", [
    ("abab", "ab", 1, 0),  # at -1 and +1: one early (the notebook's case) wins over one late
    ("abxab", "ab", 2, 0),  # at -2 and +1: -2 is tried before +1, though +1 is nearer
    ("xaaa", "aa", 0, 1),  # at +1 and +2: +1 first
    ("xxaaa", "aa", 0, 2),  # at +2 and +3: +2, and +3 is not one of the shifts tried
])
def test_offset_shifts_are_tried_in_order_minus_one_minus_two_plus_one_plus_two(context, text, stated, start):
    sq = parse_squad(squad(qa("a", [(text, stated)]), context=context))
    assert sq.examples[0].answers[0].start == start and sq.repaired == 1


def test_answer_not_in_context_is_kept_and_reported():
    sq = parse_squad(squad(qa("a", [("zebra", 4)]), qa("b")))
    assert [e.id for e in sq.examples] == ["a", "b"]
    assert sq.unfound == [("a", "zebra")]
    assert not sq.examples[0].is_impossible and sq.examples[1].is_impossible
    assert stats(sq)["answerable"] == 1


def test_v1_file_without_is_impossible():
    raw = squad(qa("a", [("fox", 16)]))
    del raw["data"][0]["paragraphs"][0]["qas"][0]["is_impossible"]
    assert parse_squad(raw).examples[0].answers[0].text == "fox"


@pytest.mark.parametrize("raw, needle", [
    ({"data": 3}, "'data' list"),
    ([1, 2], "row 1: expected an object with question and context, got a number 1"),
    ({"data": [{"paragraphs": [{"qas": []}]}]}, "'context'"),
    (squad(qa("q1", [("fox", 999)])), "question id q1 answer 0: answer_start 999 is outside"),
    (squad(qa("q2", [("fox", "16")])), "question id q2 answer 0: field 'answer_start' should be an integer, got a string \"16\""),
    (squad(qa("q2b", [("fox", True)])), "question id q2b answer 0: field 'answer_start' should be an integer, got a boolean true"),
    (squad(qa("q2c", [("fox", 16.0)])), "question id q2c answer 0: field 'answer_start' should be an integer, got a number 16.0"),
    (squad({"id": "q3", "answers": []}), "question id q3: field 'question' should be a string, got nothing"),
    (squad({"id": "q3b", "question": "  ", "answers": []}), "question id q3b: field 'question' is empty"),
    (squad({"id": "q3c", "question": "Wh\ud800o?", "answers": []}), "question id q3c: field 'question' holds a lone surrogate at character 2"),
    (squad(qa("q3d"), context="The fox\udc80."), "paragraph 0: field 'context' holds a lone surrogate at character 7"),
    (squad({**qa("q3e", [("fox", 16)]), "answers": [{"text": "f\ud800", "answer_start": 16}]}), "question id q3e answer 0: field 'text' holds a lone surrogate"),
    (squad({"id": 7, "question": "What?", "answers": []}), "question 0: field 'id' should be a string, got a number 7"),
    (squad({"id": "q3f", "question": "What?", "answers": [], "is_impossible": "false"}), "question id q3f: field 'is_impossible' should be true or false, got a string \"false\""),
    (squad({"id": "q3g", "question": "What?", "answers": [], "is_impossible": 0}), "question id q3g: field 'is_impossible' should be true or false, got a number 0"),
    (squad(qa("q4"), context="   "), "field 'context' is empty"),
    (squad(qa("q5"), qa("q5")), "question id q5: duplicate question id;"),
    (squad(qa("q6", [("", 3)])), "question id q6 answer 0: empty answer text"),
    ({"data": [{"title": "T", "paragraphs": "none"}]}, "article 0 ('T'): field 'paragraphs' should be a list, got a string \"none\""),
    ({"data": [{"paragraphs": [{"context": "c", "qas": [["q"]]}]}]}, "article 0 paragraph 0 question 0: field 'qas[]' should be an object, got a list [\"q\"]"),
    (squad({"id": "q7", "question": "What?", "answers": [{"text": "fox", "answer_start": "16"}]}),
     "question id q7 answer 0: field 'answer_start' should be an integer, got a string \"16\""),
    (squad({"id": "q8", "question": "What?", "answers": [{"text": "fox", "answer_start": 16.0}]}),
     "question id q8 answer 0: field 'answer_start' should be an integer, got a number 16.0"),
    (squad({"id": "q10", "question": "What?", "answers": [], "is_impossible": False}), "question id q10: question has no answers but is_impossible is false;"),
    ({"version": "v2.0"}, ": top level: expected an object with a 'data' list of articles (SQuAD format);"),
    ({"data": [{"paragraphs": ["p"]}]}, "article 0 paragraph 0: field 'paragraphs[]' should be an object, got a string \"p\";"),
    ({"data": [{"paragraphs": [{"context": "c", "qas": "x"}]}]}, "article 0 paragraph 0: field 'qas' should be a list, got a string \"x\";"),
    (squad({"id": "q9", "question": ["x" * 60], "answers": []}),  # a long value is cut at 40 characters of its JSON
     "question id q9: field 'question' should be a string, got a list [\"" + "x" * 38 + ";"),
])
def test_bad_input_one_line_error(tmp_path, capsys, raw, needle):
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(raw))
    assert main(["data", "stats", str(f)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and needle in err, err
    # the whole line: the file first, what is wrong, then what to do
    assert err.startswith(f"error: {f}: ") and err.endswith(
        "; fix the file, or pass valid SQuAD v1.1/v2.0 JSON or datasets-style rows (README: Data)"), err


def test_an_example_made_by_hand_has_the_documented_defaults():
    """The Python API builds examples from a question and a passage alone (`ask`): no title, article 0, paragraph 0,
    nothing unfound, unanswerable until it has answers."""
    from albert_bench.data import Answer, Example

    e = Example("q", "Who?", "Ann ran.", [])
    assert (e.title, e.article_index, e.paragraph_index, e.unfound, e.is_impossible) == ("", 0, 0, [], True)
    e.unfound.append(Answer("Bob", 0))
    assert Example("r", "Who?", "Ann ran.", []).unfound == []  # not one list shared by every example
    assert not Example("s", "Who?", "Ann ran.", [Answer("Ann", 0)]).is_impossible and Answer("Ann", 4).end == 7


def test_not_json(tmp_path, capsys):
    f = tmp_path / "x.json"
    f.write_text("{not json")
    assert main(["data", "stats", str(f)]) == 2
    err = capsys.readouterr().err
    assert "not valid JSON (line 1" in err and "Traceback" not in err


def test_missing_file(capsys):
    assert main(["data", "stats", "/nonexistent/dev.json"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_url_offline_without_cache_names_url_and_flag(tmp_path):
    url = "http://127.0.0.1:9/dev-v2.0.json"  # port 9 (discard) refuses: same as being offline
    with pytest.raises(BenchError) as e:
        resolve(url, cache_dir=tmp_path, flag="--dev-file")
    assert url in str(e.value) and "--dev-file" in str(e.value)
    assert not list(tmp_path.iterdir())  # nothing half-written in the cache


def test_show_marks_answers(dev_file, capsys):
    assert main(["data", "show", dev_file, "--id", "56ddde6b9a695914005b9629"]) == 0
    out = capsys.readouterr().out
    assert "[[in the 10th and 11th centuries]]" in out and "When were the Normans in Normandy?" in out
    assert main(["data", "show", dev_file, "--index", "99999"]) == 2


def test_split_by_article_parity(dev):
    even, odd = split_by_article(dev)
    n = lambda part: sum(len(p["qas"]) for a in part["data"] for p in a["paragraphs"])
    assert (n(even), n(odd)) == (5921, 5952)
    assert parse_squad(odd).examples and sum(e.is_impossible for e in parse_squad(odd).examples) == 3070


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_synthetic_data_asks_each_question_once_per_passage(seed):
    from albert_bench.synthetic import make_synthetic

    for part in make_synthetic(600, 200, seed=seed):
        sq = parse_squad(part)
        for p in (p for a in part["data"] for p in a["paragraphs"]):
            questions = [q["question"] for q in p["qas"]]
            assert len(questions) == len(set(questions)), questions
        assert sq.examples and all(e.context[a.start:a.end] == a.text for e in sq.examples for a in e.answers)


def test_split_refuses_to_write_over_its_input_and_a_file_of_one_article(dev_file, tmp_path, capsys):
    d = json.load(open(dev_file))
    src = tmp_path / "dev.json"
    src.write_text(json.dumps(d))
    before = src.read_bytes()
    assert main(["data", "split", str(src), "--out", str(tmp_path)]) == 2  # tmp_path/dev.json is the input
    err = capsys.readouterr().err
    assert "would write over FILE" in err and err.count("\n") == 1 and src.read_bytes() == before
    assert not (tmp_path / "train.json").exists()
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"version": "v2.0", "data": d["data"][:1]}))
    assert main(["data", "split", str(one), "--out", str(tmp_path / "split")]) == 2
    assert "1 article(s); a split by article needs at least 2" in capsys.readouterr().err
    assert not (tmp_path / "split" / "dev.json").exists()


def test_split_and_synth_never_replace_a_users_train_or_dev_file(dev_file, tmp_path, capsys):
    """A folder holding the user's own train.json: `data split` and `data synth` stop in one line and write
    nothing; their own earlier outputs they replace (run twice, as the quickstart may be)."""
    mine = tmp_path / "proj"
    mine.mkdir()
    (mine / "train.json").write_text('{"my": "own train file"}')
    for argv in (["data", "split", dev_file, "--out", str(mine)], ["data", "synth", "--out", str(mine), "--train", "20", "--dev", "10"]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [f"error: --out {mine}: already holds train.json, which albert-bench did not write there; pass a new or empty folder, or move it away"]
        assert sorted(p.name for p in mine.iterdir()) == ["train.json"] and (mine / "train.json").read_text() == '{"my": "own train file"}'
    for argv in (["data", "split", dev_file, "--out", str(tmp_path / "s")], ["data", "synth", "--out", str(tmp_path / "s"), "--train", "20", "--dev", "10"]):
        assert main(argv) == 0 and main(argv) == 0
    # a tokenizer folder that is not one: said before anything is written, and tiny-albert is not claimed
    assert main(["data", "synth", "--out", str(tmp_path / "t"), "--train", "20", "--dev", "10", "--tiny-model", str(tmp_path / "none")]) == 2
    assert "--tiny-model" in capsys.readouterr().err and not (tmp_path / "t").exists()


def test_score_names_a_runs_dev_predictions_file_and_what_to_pass(dev_file, tmp_path, capsys):
    p = tmp_path / "dev_predictions.json"
    p.write_text(json.dumps({"step": 1125, "best_text": {"a": "x"}, "null_odds": {"a": 0.5}}))
    assert main(["score", "--data", dev_file, "--predictions", str(p)]) == 2
    err = capsys.readouterr().err
    assert "training run's dev_predictions.json" in err and "albert-bench evaluate --model RUN/best" in err and "'step'" not in err


def test_the_official_squad_2_files_are_where_train_looks_for_them():
    from albert_bench.data import SQUAD2_URLS

    assert SQUAD2_URLS == {"train": "https://rajpurkar.github.io/SQuAD-explorer/dataset/train-v2.0.json",
                           "dev": "https://rajpurkar.github.io/SQuAD-explorer/dataset/dev-v2.0.json"}


def test_rows_carry_plausible_answers_and_repairs_and_need_answers():
    from albert_bench.data import squad_from_rows

    ctx = "The quick brown fox jumps over the lazy dog."
    rows = [(1, {"id": "a", "title": "T", "context": ctx, "question": "Who?", "answers": {"text": ["fox"], "answer_start": [15]}}),
            (2, {"id": "b", "title": "T", "context": ctx, "question": "Why?", "answers": {"text": [], "answer_start": []},
                 "plausible_answers": {"text": ["lazy dog"], "answer_start": [35]}, "is_impossible": True})]
    sq = squad_from_rows(rows)
    assert sq.repaired == 1 and sq.examples[0].answers[0].start == 16  # one character early, as SQuAD's own slips
    qas = sq.data[0]["paragraphs"][0]["qas"]
    assert qas[1]["plausible_answers"] == [{"text": "lazy dog", "answer_start": 35}]  # SQuAD's list, not the row's columns
    with pytest.raises(BenchError) as e:
        squad_from_rows([(1, {"id": "c", "context": ctx, "question": "Who?"})], "q.jsonl")
    assert str(e.value) == ("q.jsonl: row 1 (id c): no 'answers' field (an unanswerable question has empty lists); to answer questions "
                            "without gold answers use `albert-bench predict`; fix the file, or pass valid SQuAD v1.1/v2.0 JSON or "
                            "datasets-style rows (README: Data)")


def test_one_json_row_is_told_from_squads_articles():
    from albert_bench.data import as_rows

    assert as_rows({"question": "Who?"}) == [{"question": "Who?"}]
    assert as_rows({"context": "c"}) == [{"context": "c"}]
    assert as_rows({"id": "x"}) is None  # neither question nor context: not a row
    assert as_rows({"data": [{"paragraphs": []}], "question": "Who?"}) is None  # SQuAD with a stray key
    assert as_rows({"data": [{"id": "a", "question": "Who?"}]}) == [{"id": "a", "question": "Who?"}]
    assert as_rows([{"id": "a"}]) == [{"id": "a"}] and as_rows("text") is None


@pytest.mark.parametrize("spec, parsed", [("squad_v2", ("squad_v2", None, "validation")), ("squad_v2:plain", ("squad_v2", "plain", "validation")),
                                          ("squad_v2::train", ("squad_v2", None, "train")), ("a:b:test", ("a", "b", "test"))])
def test_dataset_spec_is_name_config_split(spec, parsed):
    from albert_bench.data import parse_dataset_spec

    assert parse_dataset_spec(spec) == parsed
    assert parse_dataset_spec("x")[2] == "validation" and parse_dataset_spec("x", default_split="train")[2] == "train"
    with pytest.raises(BenchError) as e:
        parse_dataset_spec("a:b:c:d")
    assert str(e.value) == "--dataset 'a:b:c:d': expected NAME[:CONFIG][:SPLIT], e.g. squad_v2 or squad_v2:squad_v2:validation"


def test_an_example_is_shown_as_a_person_reads_it_word_for_word():
    from albert_bench.data import Answer, Example, render_example

    ctx = "Ann met Bob at the old mill."
    e = Example("q1", "Who met whom?", ctx, [Answer("Ann met Bob", 0), Answer("Bob", 8), Answer("old mill", 19), Answer("the", 15)],
                "Village", unfound=[Answer("Carl", 3)])
    assert render_example(e) == "\n".join([
        "id:        q1", "title:     Village", "question:  Who met whom?",
        "answer 0:  'Ann met Bob'  chars 0-11", "answer 1:  'Bob'  chars 8-11", "answer 2:  'old mill'  chars 19-27",
        "answer 3:  'the'  chars 15-18",
        "unfound:   'Carl'  (not in the context; stated start 3)",
        "context:", "[[Ann met Bob]] at [[the]] [[old mill]]."])  # spans inside one another are marked once
    touching = Example("q2", "Q?", "abcdef", [Answer("abc", 0), Answer("cdef", 2)])
    assert render_example(touching).endswith("context:\n[[abcdef]]")  # overlapping spans merge
    adjacent = Example("q3", "Q?", "abcdef", [Answer("abc", 0), Answer("def", 3)])
    assert render_example(adjacent).endswith("context:\n[[abcdef]]")  # so do spans that meet
    assert render_example(adjacent, color=True).endswith("context:\n\x1b[1;43mabcdef\x1b[0m")
    none = Example("q4", "Q?", "abc", [])
    assert render_example(none) == "id:        q4\ntitle:     \nquestion:  Q?\nanswers:   (none: this question is unanswerable from the passage)\ncontext:\nabc"


def test_finding_an_example_by_id_or_index_names_what_the_file_holds():
    from albert_bench.data import find_example

    sq = parse_squad(squad(qa("a", [("fox", 16)]), qa("b")), "f.json")
    assert find_example(sq, id="b").id == "b" and find_example(sq, index=1).id == "b" and find_example(sq, index=0).id == "a"
    for index in (2, -1, None):
        with pytest.raises(BenchError) as e:
            find_example(sq, index=index)
        assert str(e.value) == f"f.json: --index {index} is out of range; the file has 2 questions (0..1)"
    with pytest.raises(BenchError) as e:
        find_example(sq, id="zz")
    assert str(e.value) == "f.json: no question with id 'zz'; `albert-bench data stats` shows what the file holds"


def test_stats_count_every_gold_answer_and_name_the_unfound():
    from albert_bench.model import load_tokenizer
    from tests.conftest import ALBERT_DIR

    sq = parse_squad(squad(qa("a", [("fox", 16), ("zebra", 4)]), qa("b", [("lazy dog", 35)]), qa("c")), "f.json")
    st = stats(sq)
    assert {k: st[k] for k in ("questions", "answerable", "unanswerable", "answers", "unfound_answers", "unfound_examples")} == {
        "questions": 3, "answerable": 2, "unanswerable": 1, "answers": 3, "unfound_answers": 1, "unfound_examples": [{"id": "a", "text": "zebra"}]}
    assert st["chars"] == {"context": {"p50": 44.0, "p90": 44.0, "p95": 44.0, "p99": 44.0, "max": 44.0},
                           "question": {"p50": 5.0, "p90": 5.0, "p95": 5.0, "p99": 5.0, "max": 5.0},
                           "answer": {"p50": 5.5, "p90": 7.5, "p95": 7.75, "p99": 7.95, "max": 8.0}}
    tok = load_tokenizer(str(ALBERT_DIR))
    tokens = stats(sq, tok)["tokens"]
    assert tokens["context"]["max"] == len(tok("The quick brown fox jumps over the lazy dog.", add_special_tokens=False)["input_ids"])
    assert tokens["question"]["max"] == len(tok("What?", add_special_tokens=False)["input_ids"])  # no [CLS]/[SEP] counted


def test_a_split_keeps_the_version_or_says_v2():
    for version, kept in (("v1.1", "v1.1"), ("", "v2.0")):
        sq = parse_squad({"version": version, "data": [{"title": t, "paragraphs": []} for t in "ABC"]})
        even, odd = split_by_article(sq)
        assert (even["version"], odd["version"]) == (kept, kept)
        assert [a["title"] for a in even["data"]] == ["A", "C"] and [a["title"] for a in odd["data"]] == ["B"]


@pytest.mark.parametrize("first", [{"title": "empty article"}, {"title": "typo", "paragraph": []}])
def test_a_squad_file_whose_first_article_lacks_paragraphs_is_named_as_squad(dev_file, tmp_path, capsys, first):
    """It was taken for datasets-style rows ("row 1: field 'id' should be a string"): the other articles say SQuAD."""
    d = json.load(open(dev_file))
    d["data"] = [first] + d["data"][:2]
    (tmp_path / "typo.json").write_text(json.dumps(d))
    assert main(["data", "stats", str(tmp_path / "typo.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {tmp_path / 'typo.json'}: article 0") and "paragraphs" in err[0] and "row 1" not in err[0], err
