"""Data in the flat `datasets` layout (JSON Lines, JSON, Parquet, hub datasets): the same questions, the same
features, the same metrics as SQuAD JSON; every problem one line with the row number and id."""

import json
import os
import subprocess
import sys

import pytest

from albert_bench.cli import main
from albert_bench.data import load_data, load_squad, read_squad, rows_from_squad
from albert_bench.errors import BenchError
from albert_bench.formats import columns, count_rows, iter_rows, sniff, write_rows


@pytest.fixture(scope="module")
def layouts(dev_file, tmp_path_factory):
    """The dev set converted by the CLI into every layout, and back to SQuAD JSON from each."""
    d = tmp_path_factory.mktemp("layouts")
    out = {"json": dev_file}
    for suffix in ("jsonl", "parquet"):
        assert main(["data", "convert", dev_file, "--out", str(d / f"dev.{suffix}")]) == 0
        out[suffix] = str(d / f"dev.{suffix}")
        assert main(["data", "convert", out[suffix], "--out", str(d / f"back-from-{suffix}.json")]) == 0
        out[f"back-from-{suffix}"] = str(d / f"back-from-{suffix}.json")
    return out


@pytest.mark.parametrize("via", ["jsonl", "parquet"])
def test_squad_to_rows_and_back_loses_nothing(layouts, via):
    original = json.load(open(layouts["json"]))
    back = json.load(open(layouts[f"back-from-{via}"]))
    assert back == original  # every article, paragraph, id, answer, plausible answer and is_impossible
    assert list(back["data"][0]) == list(original["data"][0])  # and in the same order


def test_rows_are_the_datasets_layout(layouts):
    first = json.loads(open(layouts["jsonl"]).readline())
    assert list(first)[:5] == ["id", "title", "context", "question", "answers"]
    assert first["answers"] == {"text": ["France"] * 4, "answer_start": [159] * 4}
    import pyarrow.parquet as pq

    table = pq.read_table(layouts["parquet"])
    assert table.num_rows == 11873
    import pyarrow as pa

    answers = table.schema.field("answers").type
    assert [answers.field(i).name for i in range(answers.num_fields)] == ["text", "answer_start"]
    assert answers.field("text").type.value_type == pa.string() and answers.field("answer_start").type.value_type == pa.int64()


def test_every_layout_gives_the_same_stats(layouts, capsys):
    seen = []
    for fmt in ("json", "jsonl", "parquet"):
        assert main(["data", "stats", layouts[fmt], "--json"]) == 0
        st = json.loads(capsys.readouterr().out)
        st.pop("file")
        seen.append(st)
    assert seen[0] == seen[1] == seen[2]
    assert seen[0]["questions"] == 11873 and seen[0]["unanswerable"] == 5945 and seen[0]["paragraphs"] == 1204


def test_every_layout_gives_byte_identical_features(layouts, albert_tok):
    from albert_bench.features import FeatureConfig, build_features, features_equal

    cfg = FeatureConfig(256, 128, 64)
    feats = {fmt: build_features(load_squad(layouts[fmt]).examples, albert_tok, cfg) for fmt in ("json", "jsonl", "parquet")}
    assert features_equal(feats["json"], feats["jsonl"]) is None
    assert features_equal(feats["json"], feats["parquet"]) is None
    assert len(feats["json"]) > 12000


def test_evaluate_gives_the_same_metrics_from_every_layout(trained, tmp_path, capsys):
    run, data = trained
    sq = load_squad(str(data / "dev.json"))
    write_rows(str(tmp_path / "dev.jsonl"), rows_from_squad(sq.data), "jsonl")
    write_rows(str(tmp_path / "dev.parquet"), rows_from_squad(sq.data), "parquet")
    metrics = []
    for src in (data / "dev.json", tmp_path / "dev.jsonl", tmp_path / "dev.parquet"):
        assert main(["evaluate", "--model", str(run / "best"), "--data", str(src), "--out", str(tmp_path / f"out{src.suffix}")]) == 0
        metrics.append(json.loads(capsys.readouterr().out))
        assert metrics[-1].pop("evaluated")["data"] == str(src)  # what the figures are of
    assert metrics[0] == metrics[1] == metrics[2]
    assert metrics[0]["HasAns_total"] > 0 and metrics[0]["NoAns_total"] > 0


# ---------------------------------------------------------------- told from the content, not the name


def _rows(n=3):
    ctx = "The quick brown fox jumps over the lazy dog."
    rows = [{"id": f"q{i}", "title": "T", "context": ctx, "question": f"What jumps {i}?", "answers": {"text": ["fox"], "answer_start": [16]}} for i in range(n)]
    rows[-1]["answers"] = {"text": [], "answer_start": []}
    return rows


@pytest.mark.parametrize("layout, name", [("jsonl", "data.json"), ("jsonl", "data.txt"), ("parquet", "data.json"), ("blank-first", "rows.jsonl"),
                                          ("list", "rows.jsonl"), ("export", "export.json"), ("one", "one.jsonl")])
def test_layout_is_told_from_the_content(tmp_path, layout, name):
    path = tmp_path / name
    rows = _rows(1 if layout == "one" else 3)
    if layout in ("jsonl", "blank-first"):
        path.write_text(("\n\r\n" if layout == "blank-first" else "") + "".join(json.dumps(r) + "\n" for r in rows))
    elif layout == "parquet":
        write_rows(str(tmp_path / "x.parquet"), rows, "parquet")
        os.replace(tmp_path / "x.parquet", path)
    elif layout == "list":
        path.write_text(json.dumps(rows, indent=2))
    elif layout == "export":
        path.write_text(json.dumps({"version": "v2.0", "data": rows}))
    else:
        path.write_text(json.dumps(rows[0]) + "\n")
    sq = load_squad(str(path))
    assert [e.id for e in sq.examples] == [r["id"] for r in rows]
    assert [[a.text for a in e.answers] for e in sq.examples] == [r["answers"]["text"] for r in rows]
    assert sq.examples[0].context[sq.examples[0].answers[0].start:][:3] == "fox" if rows[0]["answers"]["text"] else True


def test_pretty_printed_squad_is_not_mistaken_for_json_lines(tmp_path):
    squad = {"version": "v2.0", "data": [{"title": "T", "paragraphs": [{"context": "A b c.", "qas": [
        {"id": "a", "question": "Q?", "answers": [{"text": "b", "answer_start": 2}]}]}]}]}
    (tmp_path / "one-line.json").write_text(json.dumps(squad))
    (tmp_path / "pretty.json").write_text(json.dumps(squad, indent=2))
    for name in ("one-line.json", "pretty.json"):
        assert sniff(str(tmp_path / name), "x") == "json"
        assert [e.id for e in load_squad(str(tmp_path / name)).examples] == ["a"]


def test_rows_group_into_articles_and_paragraphs_as_they_come(tmp_path):
    """A new article where the title changes from the row before, a new paragraph where the context does: two
    articles of one title stay two, and so do two paragraphs of one context."""
    rows = [{"id": str(i), "title": t, "context": c, "question": "q?", "answers": {"text": [], "answer_start": []}}
            for i, (t, c) in enumerate([("B", "c1 x"), ("A", "c2 x"), ("B", "c3 x"), ("B", "c1 x"), ("B", "c1 x")])]
    sq = load_squad(_write_jsonl(tmp_path, rows))
    assert [a["title"] for a in sq.data] == ["B", "A", "B"]
    assert [[p["context"] for p in a["paragraphs"]] for a in sq.data] == [["c1 x"], ["c2 x"], ["c3 x", "c1 x"]]
    assert [(e.id, e.article_index, e.paragraph_index) for e in sq.examples] == [("0", 0, 0), ("1", 1, 0), ("2", 2, 0), ("3", 2, 1), ("4", 2, 1)]


def test_round_trip_keeps_repeated_titles_and_contexts(tmp_path):
    qa = lambda i: {"id": f"q{i}", "question": "What?", "answers": [{"text": "b", "answer_start": 2}], "is_impossible": False}  # noqa: E731
    squad = {"version": "v2.0", "data": [
        {"title": "Same", "paragraphs": [{"context": "a b c", "qas": [qa(1)]}, {"context": "a b d", "qas": [qa(2)]}, {"context": "a b c", "qas": [qa(3)]}]},
        {"title": "Other", "paragraphs": [{"context": "a b e", "qas": [qa(4)]}]},
        {"title": "Same", "paragraphs": [{"context": "a b c", "qas": [qa(5)]}]}]}
    (tmp_path / "s.json").write_text(json.dumps(squad))
    for suffix in ("jsonl", "parquet"):
        assert main(["data", "convert", str(tmp_path / "s.json"), "--out", str(tmp_path / f"r.{suffix}")]) == 0
        assert main(["data", "convert", str(tmp_path / f"r.{suffix}"), "--out", str(tmp_path / f"back-{suffix}.json")]) == 0
        assert json.load(open(tmp_path / f"back-{suffix}.json")) == squad


def _write_jsonl(tmp_path, rows, name="rows.jsonl"):
    path = tmp_path / name
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return str(path)


# ---------------------------------------------------------------- hostile rows: one line, the row and its id


def _bad(row_update):
    rows = _rows(3)
    if callable(row_update):
        row_update(rows)
    else:
        rows[1].update(row_update)
    return rows


@pytest.mark.parametrize("rows, needle", [
    (_bad({"answers": {"text": ["fox", "dog"], "answer_start": [16]}}), "row 2 (id q1): 'answers' has 2 text(s) but 1 answer_start(s)"),
    (_bad({"answers": {"text": ["fox"], "answer_start": ["16"]}}), "row 2 (id q1) answer 0: field 'answer_start' should be an integer"),
    (_bad({"answers": {"text": ["fox"], "answer_start": [16.0]}}), "row 2 (id q1) answer 0: field 'answer_start' should be an integer"),
    (_bad({"answers": {"text": ["fox"], "answer_start": [999]}}), "row 2 (id q1) answer 0: answer_start 999 is outside the context"),
    (_bad({"answers": ["fox"]}), "row 2 (id q1) answer 0: field 'answers[]' should be an object"),
    (_bad({"answers": "fox"}), "row 2 (id q1): field 'answers' should be"),
    (_bad({"is_impossible": "false"}), "row 2 (id q1): field 'is_impossible' should be true or false"),
    (_bad({"context": None}), "row 2 (id q1): field 'context' should be a string"),
    (_bad({"question": "   "}), "row 2 (id q1): field 'question' is empty"),
    (_bad({"question": "Who\ud800?"}), "row 2 (id q1): field 'question' holds a lone surrogate at character 3"),
    (_bad({"id": 7}), "row 2: field 'id' should be a string"),
    (_bad(lambda rows: rows[1].pop("answers")), "row 2 (id q1): no 'answers' field"),
    (_bad({"id": "q0"}), "row 2 (id q0): duplicate question id (also row 1)"),
    (_bad(lambda rows: rows.insert(1, [1, 2])), "line 2: expected a JSON object with question and context, got a list"),
    (_bad(lambda rows: rows.insert(2, '{"id": "x", ')), "line 3: not valid JSON"),
])
def test_bad_row_is_one_line_naming_row_and_id(tmp_path, capsys, rows, needle):
    path = _write_jsonl(tmp_path, rows)
    assert main(["data", "stats", path]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"error: {path}: ")
    assert needle in err, err


@pytest.mark.parametrize("change, needle", [
    ({"answers": {"text": ["fox", "dog"], "answer_start": [16]}}, "row 2 (id q1): 'answers' has 2 text(s) but 1 answer_start(s)"),
    ({"answers": {"text": ["fox"], "answer_start": [999]}}, "row 2 (id q1) answer 0: answer_start 999 is outside the context"),
    ({"id": "q0"}, "row 2 (id q0): duplicate question id (also row 1)"),
    ({"question": " "}, "row 2 (id q1): field 'question' is empty"),
    ({"context": None}, "row 2 (id q1): field 'context' should be a string"),
])
def test_bad_parquet_row_is_one_line_naming_row_and_id(tmp_path, capsys, change, needle):
    rows = _rows(3)
    rows[1].update(change)
    write_rows(str(tmp_path / "rows.parquet"), rows, "parquet")
    assert main(["data", "stats", str(tmp_path / "rows.parquet")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err, err


def test_damaged_parquet_is_one_line(tmp_path, capsys):
    write_rows(str(tmp_path / "ok.parquet"), _rows(50), "parquet")
    data = (tmp_path / "ok.parquet").read_bytes()
    (tmp_path / "cut.parquet").write_bytes(data[: len(data) // 2])
    assert main(["data", "stats", str(tmp_path / "cut.parquet")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith(f"error: {tmp_path / 'cut.parquet'}: not a readable Parquet file (")


def test_convert_refuses_unknown_output_and_two_sources(tmp_path, capsys, dev_file):
    assert main(["data", "convert", dev_file, "--out", str(tmp_path / "x.csv")]) == 2
    assert "name the output .json (SQuAD JSON), .jsonl" in capsys.readouterr().err
    assert main(["data", "convert", dev_file, "--dataset", "squad_v2", "--out", str(tmp_path / "x.jsonl")]) == 2
    assert "one of them (both were given)" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "x.jsonl")


# ---------------------------------------------------------------- --dataset (the `datasets` library)


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    """A dataset folder as `datasets` reads one: a Parquet file per split."""
    from albert_bench.synthetic import make_synthetic

    d = tmp_path_factory.mktemp("ds")
    train, dev = make_synthetic(240, 60, seed=1, filler_share=0.0)
    for split, data in (("train", train), ("validation", dev)):
        write_rows(str(d / f"{split}.parquet"), rows_from_squad(data["data"]), "parquet")
    (d / "squad.json").write_text(json.dumps(dev))
    return d


def test_dataset_folder_loads_through_datasets_like_the_file(dataset_dir, capsys):
    sq = load_data(dataset=str(dataset_dir))  # split defaults to validation
    assert load_data(dataset=str(dataset_dir), need_questions=True).examples == sq.examples  # it has questions: no complaint
    ref = load_squad(str(dataset_dir / "squad.json"))
    assert sq.examples == ref.examples and sq.data == ref.data
    assert sq.sha256.startswith("datasets:")
    assert [e.id for e in load_data(dataset=f"{dataset_dir}::train").examples][:2] == ["train-0-0", "train-0-1"]
    assert main(["data", "stats", "--dataset", f"{dataset_dir}::nosuchsplit"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith(f"error: --dataset {dataset_dir}::nosuchsplit: Unknown split \"nosuchsplit\""), err


def test_hub_dataset_offline_is_one_line_fast(capsys):
    assert main(["data", "stats", "--dataset", "squad_v2"]) == 2  # conftest sets HF_HUB_OFFLINE=1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "HF_HUB_OFFLINE is set" in err and "pass the file instead" in err


def test_hub_dataset_unreachable_is_one_line_within_seconds(tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on: connection refused at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "HF_HUB_OFFLINE": "0", "HF_ENDPOINT": f"http://127.0.0.1:{port}", "HF_HOME": str(tmp_path / "hf")}
    # no retry loop: the subprocess timeout (generous, for a busy machine) is the bound, the one line the check
    r = subprocess.run([sys.executable, "-m", "albert_bench", "data", "stats", "--dataset", "someone/qa-data"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "the hub is out of reach" in r.stderr and f"127.0.0.1:{port}" in r.stderr


def test_dataset_spec_is_checked(capsys):
    for spec in ("", "a:b:c:d", " squad_v2"):
        assert main(["data", "stats", "--dataset", spec]) == 2
        assert "NAME[:CONFIG][:SPLIT]" in capsys.readouterr().err


def test_train_on_a_dataset_equals_train_on_its_files(dataset_dir, tmp_path):
    """The `datasets` path feeds training exactly what the files do: the same metrics at every evaluation."""
    from tests.test_train import metrics
    from albert_bench.synthetic import tiny_albert_dir
    from tests.conftest import ALBERT_DIR

    tiny_albert_dir(str(tmp_path / "tiny"), str(ALBERT_DIR), hidden=64, layers=1, heads=2, dropout=0.1)
    for split in ("train", "validation"):
        read = read_squad(str(dataset_dir / f"{split}.parquet"))
        (tmp_path / f"{split}.json").write_text(json.dumps({"version": "v2.0", "data": read.data}))
    common = ["--model", str(tmp_path / "tiny"), "--init", "random", "--max-seq-length", "128", "--doc-stride", "32", "--max-steps", "3",
              "--batch-size", "16", "--report-to", "none"]
    assert main(["train", "--dataset", str(dataset_dir), "--run-dir", str(tmp_path / "a"), *common]) == 0
    assert main(["train", "--train-file", str(tmp_path / "train.json"), "--dev-file", str(tmp_path / "validation.json"), "--run-dir", str(tmp_path / "b"), *common]) == 0
    a, b = metrics(tmp_path / "a"), metrics(tmp_path / "b")
    keys = ("step", "train_loss", "eval_loss", "exact", "f1", "best_f1")
    assert [{k: r[k] for k in keys} for r in a] == [{k: r[k] for k in keys} for r in b]
    info = json.load(open(tmp_path / "a" / "run_info.json"))
    assert info["train_file"] == f"{dataset_dir}::train" and info["dev_sha256"].startswith("datasets:")
    from huggingface_hub import ModelCard

    result = ModelCard.load(tmp_path / "a" / "best" / "README.md").data.eval_results[0]  # the card names the dataset, not a local path
    assert (result.dataset_type, result.dataset_name, result.dataset_split) == (dataset_dir.name, f"{dataset_dir.name}::validation", "validation")
    assert str(dataset_dir) not in (tmp_path / "a" / "best" / "README.md").read_text()


def test_train_refuses_a_split_in_dataset(dataset_dir, tmp_path, capsys):
    assert main(["train", "--dataset", f"{dataset_dir}::train", "--model", "x", "--run-dir", str(tmp_path / "r")]) == 2
    assert "train takes NAME[:CONFIG]" in capsys.readouterr().err


def test_convert_from_a_dataset_writes_its_rows(dataset_dir, tmp_path):
    assert main(["data", "convert", "--dataset", f"{dataset_dir}::train", "--out", str(tmp_path / "train.json")]) == 0
    assert load_squad(str(tmp_path / "train.json")).examples == read_squad(str(dataset_dir / "train.parquet")).examples


def test_load_data_needs_exactly_one_source():
    with pytest.raises(BenchError, match="one of them"):
        load_data()


def test_a_list_of_rows_is_rows_even_when_its_first_row_is_wrong(tmp_path, capsys):
    none = {"text": [], "answer_start": []}
    (tmp_path / "l.json").write_text(json.dumps([{"id": "r1", "context": "abc", "answers": none}, {"id": "r2", "context": "abc", "question": "q?", "answers": none}]))
    assert main(["data", "stats", str(tmp_path / "l.json")]) == 2
    assert "row 1 (id r1): field 'question' should be a string" in capsys.readouterr().err


def test_parquet_column_of_mixed_types_is_one_line(tmp_path, capsys):
    rows = _rows(2)
    rows[0]["meta"], rows[1]["meta"] = 1, "x"
    path = _write_jsonl(tmp_path, rows)
    assert main(["data", "convert", path, "--out", str(tmp_path / "m.parquet")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "column 'meta' cannot be written as Parquet" in err
    assert f"{tmp_path / 'm.parquet'}: column 'meta' cannot be written as Parquet: its values differ in type across rows (" in err
    assert err.rstrip().endswith("); write JSON Lines (.jsonl) instead")
    assert not list(tmp_path.glob("m.parquet*"))


def test_dataset_naming_a_file_is_one_line_at_once(tmp_path, capsys):
    path = _write_jsonl(tmp_path, _rows(2))
    assert main(["data", "stats", "--dataset", path]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "is a file; pass a file as FILE" in err


# ---------------------------------------------------------------- formats' own functions, directly


def test_sniff_reads_past_blank_lines_and_a_byte_order_mark(tmp_path):
    rows = _rows(2)
    body = "".join(json.dumps(r) + "\n" for r in rows)
    cases = {"bom.jsonl": b"\xef\xbb\xbf" + body.encode(), "bom-line.jsonl": b"\xef\xbb\xbf\n \t\n" + body.encode(),
             "blank.jsonl": b"\n\n" + body.encode()}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        assert sniff(str(tmp_path / name), "x") == "jsonl", name
        assert [r["id"] for _, r in iter_rows(str(tmp_path / name), "jsonl", "x")] == ["q0", "q1"], name
    (tmp_path / "one.jsonl").write_text(json.dumps(rows[0]) + "\n\n")  # a single line: one document
    assert sniff(str(tmp_path / "one.jsonl"), "x") == "json"
    (tmp_path / "list.json").write_text(json.dumps(rows))
    assert sniff(str(tmp_path / "list.json"), "x") == "json"
    (tmp_path / "broken.jsonl").write_text('{"id": \n{"id": "b"}\n')  # the first line is not a document
    assert sniff(str(tmp_path / "broken.jsonl"), "x") == "json"
    (tmp_path / "lines-of-lists.jsonl").write_text("[1]\n[2]\n")
    assert sniff(str(tmp_path / "lines-of-lists.jsonl"), "x") == "json"
    (tmp_path / "numbers.jsonl").write_text('{"a": 1}\n{"a": 2}\n')
    assert sniff(str(tmp_path / "numbers.jsonl"), "x") == "jsonl"


def test_sniff_of_what_cannot_be_read_is_one_line(tmp_path):
    with pytest.raises(BenchError) as e:
        sniff(str(tmp_path / "missing.jsonl"), "a rows file")
    assert str(e.value) == f"{tmp_path / 'missing.jsonl'}: no such file; pass a rows file"
    with pytest.raises(BenchError) as e:
        sniff(str(tmp_path), "a rows file")
    assert str(e.value) == f"{tmp_path}: is a directory; pass a rows file"


def test_json_document_rows_numbered_from_one_and_what_is_not_rows(tmp_path):
    rows = _rows(3)
    for name, doc in (("list.json", rows), ("export.json", {"version": "v2.0", "data": rows})):
        (tmp_path / name).write_text(json.dumps(doc))
        assert [(n, r["id"]) for n, r in iter_rows(str(tmp_path / name), "json", "x")] == [(1, "q0"), (2, "q1"), (3, "q2")]
    (tmp_path / "one.json").write_text(json.dumps(rows[0]))
    assert [(n, r["id"]) for n, r in iter_rows(str(tmp_path / "one.json"), "json", "x")] == [(1, "q0")]
    (tmp_path / "bad.json").write_text(json.dumps({"data": "rows"}))
    with pytest.raises(BenchError) as e:
        list(iter_rows(str(tmp_path / "bad.json"), "json", "a rows file"))
    assert str(e.value) == f'{tmp_path / "bad.json"}: expected a list of rows, or {{"data": [rows]}}; pass a rows file'
    (tmp_path / "mixed.json").write_text(json.dumps([rows[0], 7]))
    with pytest.raises(BenchError) as e:
        list(iter_rows(str(tmp_path / "mixed.json"), "json", "x"))
    assert str(e.value) == f"{tmp_path / 'mixed.json'}: row 2: expected a JSON object with question and context, got a number"


def test_json_lines_rows_skip_blank_lines_and_a_bad_line_names_its_column(tmp_path):
    path = _write_jsonl(tmp_path, [_rows(1)[0], "", '{"id": "x" "y"}'])
    it = iter_rows(path, "jsonl", "x")
    assert next(it)[0] == 1
    with pytest.raises(BenchError) as e:
        next(it)
    assert str(e.value).startswith(f"{path}: line 3: not valid JSON (column 12: ")
    assert str(e.value).endswith("); every line of a JSON Lines file is one JSON object")


def test_json_lines_row_at_the_size_limit_is_read_and_one_byte_more_is_refused(tmp_path):
    from albert_bench.files import MAX_TEXT_BYTES

    row = _rows(1)[0]
    short = json.dumps(row)
    fill = MAX_TEXT_BYTES - len(short) - 1  # the line, its newline included, exactly at the limit
    row["pad"] = "x" * (fill - len(', "pad": ""'))
    line = json.dumps(row) + "\n"
    assert len(line.encode()) == MAX_TEXT_BYTES
    (tmp_path / "ok.jsonl").write_text(line + line.replace('"q0"', '"q1"'))
    assert [n for n, _ in iter_rows(str(tmp_path / "ok.jsonl"), "jsonl", "x")] == [1, 2]
    for more in (1, 100):  # the line's whole length is reported, not what was read of it
        row["pad"] = "x" * (fill - len(', "pad": ""') + more)
        (tmp_path / "big.jsonl").write_text(line + json.dumps(row) + "\n")
        with pytest.raises(BenchError) as e:
            list(iter_rows(str(tmp_path / "big.jsonl"), "jsonl", "x"))
        assert str(e.value).startswith(f"{tmp_path / 'big.jsonl'}: line 2 is {MAX_TEXT_BYTES + more:,} bytes, above the {MAX_TEXT_BYTES:,} allowed")


def test_count_rows_and_columns(tmp_path):
    rows = _rows(5)
    rows[0]["extra"] = 1
    (tmp_path / "r.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n\n  \n")
    assert count_rows(str(tmp_path / "r.jsonl"), "jsonl") == 5
    write_rows(str(tmp_path / "r.parquet"), rows, "parquet")
    assert count_rows(str(tmp_path / "r.parquet"), "parquet") == 5
    assert columns(str(tmp_path / "r.parquet"), "parquet") == ["id", "title", "context", "question", "answers", "extra"]
    assert columns(str(tmp_path / "r.jsonl"), "jsonl") is None
    (tmp_path / "r.json").write_text(json.dumps(rows))
    assert count_rows(str(tmp_path / "r.json"), "json") is None


def test_parquet_rows_stream_in_chunks_numbered_from_one(tmp_path):
    rows = _rows(5)
    write_rows(str(tmp_path / "r.parquet"), rows, "parquet")
    got = list(iter_rows(str(tmp_path / "r.parquet"), "parquet", "x", chunk_rows=2))
    assert [(n, r["id"]) for n, r in got] == [(1, "q0"), (2, "q1"), (3, "q2"), (4, "q3"), (5, "q4")]
    assert got[0][1]["answers"] == {"text": ["fox"], "answer_start": [16]}


def test_parquet_bytes_are_text_when_utf8_and_one_line_otherwise(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    ok = pa.table({"id": pa.array([b"a", b"b"], pa.binary()), "tags": pa.array([[b"x\xc3\xa9"], []], pa.list_(pa.binary())),
                   "meta": pa.array([{"k": b"v"}, {"k": b"w"}], pa.struct([("k", pa.binary())]))})
    pq.write_table(ok, tmp_path / "ok.parquet")
    got = [r for _, r in iter_rows(str(tmp_path / "ok.parquet"), "parquet", "x")]
    assert got == [{"id": "a", "tags": ["x\u00e9"], "meta": {"k": "v"}}, {"id": "b", "tags": [], "meta": {"k": "w"}}]
    pq.write_table(pa.table({"id": pa.array([b"a", b"ab\xff"], pa.binary())}), tmp_path / "bad.parquet")
    with pytest.raises(BenchError) as e:
        list(iter_rows(str(tmp_path / "bad.parquet"), "parquet", "x"))
    assert str(e.value) == (f"{tmp_path / 'bad.parquet'}: row 2: column 'id' holds bytes that are not UTF-8 text (at byte 2); "
                            "store text as UTF-8 strings")


def test_parquet_row_text_at_the_size_limit_is_read_and_one_byte_more_is_refused(tmp_path):
    from albert_bench.files import MAX_TEXT_BYTES

    half = MAX_TEXT_BYTES // 2
    rows = [{"a": "x" * half, "b": ["y" * (MAX_TEXT_BYTES - half)]}, {"a": "x" * half, "b": ["y" * (MAX_TEXT_BYTES - half + 1)]}]
    write_rows(str(tmp_path / "r.parquet"), rows, "parquet")
    it = iter_rows(str(tmp_path / "r.parquet"), "parquet", "x")
    assert next(it)[0] == 1  # text in every column and list counted: exactly the limit
    with pytest.raises(BenchError) as e:
        next(it)
    assert str(e.value).startswith(f"{tmp_path / 'r.parquet'}: row 2 is {MAX_TEXT_BYTES + 1:,} bytes, above the {MAX_TEXT_BYTES:,} allowed")


def test_write_rows_counts_rows_and_takes_every_key_as_a_column(tmp_path):
    rows = [{"id": "a", "x": 1}, {"id": "b", "y": "z"}]
    assert write_rows(str(tmp_path / "r.jsonl"), iter(rows), "jsonl") == 2
    assert [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()] == rows
    assert write_rows(str(tmp_path / "r.parquet"), iter(rows), "parquet") == 2
    assert [r for _, r in iter_rows(str(tmp_path / "r.parquet"), "parquet", "x")] == [
        {"id": "a", "x": 1, "y": None}, {"id": "b", "x": None, "y": "z"}]
    with pytest.raises(ValueError):
        write_rows(str(tmp_path / "r.csv"), rows, "csv")
    assert sorted(os.listdir(tmp_path)) == ["r.jsonl", "r.parquet"]


def test_unreadable_parquet_and_unwritable_rows_are_one_line_saying_what(tmp_path):
    (tmp_path / "x.parquet").write_bytes(b"PAR1 but nothing after it")
    for read in (count_rows, columns):
        with pytest.raises(BenchError) as e:
            read(str(tmp_path / "x.parquet"), "parquet")
        assert str(e.value).startswith(f"{tmp_path / 'x.parquet'}: not a readable Parquet file (")
        assert str(e.value).endswith("); pass a Parquet file")
    with pytest.raises(BenchError) as e:
        write_rows(str(tmp_path / "no-such-folder" / "r.jsonl"), _rows(1), "jsonl")
    assert str(e.value).startswith(f"could not write the rows {tmp_path / 'no-such-folder' / 'r.jsonl'} (")


def test_a_dataset_without_the_qa_columns_is_named_with_what_it_has(tmp_path):
    from albert_bench.data import load_dataset

    folder = tmp_path / "not-qa"
    folder.mkdir()
    (folder / "validation.jsonl").write_text('{"id": "a", "context": "c"}\n')
    with pytest.raises(BenchError) as e:
        load_dataset(str(folder))
    assert str(e.value) == f"--dataset {folder}: the dataset has no column(s) question (it has id, context); pass a SQuAD-style QA dataset"


def test_a_dataset_the_library_cannot_build_is_one_line_naming_its_error(tmp_path):
    """An empty Parquet split: `datasets` raises its own DatasetGenerationError, passed on as one line with its
    class and first line."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from albert_bench.data import load_dataset

    folder = tmp_path / "empty"
    folder.mkdir()
    pq.write_table(pa.table({"id": pa.array([], pa.string()), "context": pa.array([], pa.string()),
                             "question": pa.array([], pa.string())}), folder / "validation.parquet")
    with pytest.raises(BenchError) as e:
        load_dataset(str(folder))
    assert str(e.value) == f"--dataset {folder}: cannot load {str(folder)!r} (DatasetGenerationError: An error occurred while generating the dataset)"


def test_an_empty_dataset_folder_is_named_as_a_folder_not_a_hub_dataset(tmp_path):
    from albert_bench.data import load_dataset

    with pytest.raises(BenchError) as e:
        load_dataset(str(tmp_path))
    assert str(e.value) == (f"--dataset {tmp_path}: cannot load the folder {str(tmp_path)!r}: The directory at {tmp_path} doesn't contain any "
                            "data files; put the split's data files in it (e.g. validation.jsonl, .json or .parquet), or pass a data file as FILE")


@pytest.mark.parametrize("title", ["A", ""])
@pytest.mark.parametrize("suffix", ["jsonl", "parquet"])
def test_two_articles_in_a_row_of_one_title_stay_two(dev_file, tmp_path, title, suffix):
    """Rows carry only a title: two consecutive articles sharing one (or both untitled) were joined into one on the
    way back, and `data split` then split another way. The rows now number them, and only then."""
    paragraphs = json.load(open(dev_file))["data"][0]["paragraphs"][:4]
    two = {"version": "v2.0", "data": [{"title": title, "paragraphs": paragraphs[:2]}, {"title": title, "paragraphs": paragraphs[2:]}]}
    (tmp_path / "two.json").write_text(json.dumps(two))
    assert main(["data", "convert", str(tmp_path / "two.json"), "--out", str(tmp_path / f"two.{suffix}")]) == 0
    assert main(["data", "convert", str(tmp_path / f"two.{suffix}"), "--out", str(tmp_path / "back.json")]) == 0
    assert json.load(open(tmp_path / "back.json")) == two
    assert main(["data", "split", str(tmp_path / f"two.{suffix}"), "--out", str(tmp_path / "split")]) == 0  # two articles: one each
    assert [len(json.load(open(tmp_path / "split" / f))["data"]) for f in ("train.json", "dev.json")] == [1, 1]
    # the column is written only where it is needed: the real dev set's rows do without it
    assert not any("article" in row for row in rows_from_squad(json.load(open(dev_file))["data"]))
    assert all(row["article"] == (i >= sum(len(p["qas"]) for p in paragraphs[:2])) for i, row in enumerate(rows_from_squad(two["data"])))
