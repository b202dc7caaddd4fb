"""`albert-bench predict`: one line per row, the answers `QuestionAnswerer` gives, bad rows on lines of their own,
resumed after a kill with nothing lost or doubled, and sharded over two processes into one output."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from albert_bench.cli import main
from albert_bench.data import load_squad, rows_from_squad
from albert_bench.formats import write_rows

ANSWERED_IN = {"precision": "fp32"}

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def rows(trained):
    """The synthetic dev questions as rows: question, context, id (gold answers ride along and are ignored)."""
    _, data = trained
    return list(rows_from_squad(load_squad(str(data / "dev.json")).data))


@pytest.fixture(scope="module")
def reference(trained, rows):
    from albert_bench.qa import QuestionAnswerer

    qa = QuestionAnswerer.from_pretrained(str(trained[0] / "best"))
    ANSWERED_IN["precision"] = qa.precision  # what --precision auto (predict's default too) picks here
    return qa.answer_batch([(r["question"], r["context"]) for r in rows], top_k=2)


def read(path):
    return [json.loads(line) for line in open(path)]


def same_answers(lines, reference, rows):
    assert [x["id"] for x in lines] == [r["id"] for r in rows]
    for x, ref in zip(lines, reference):
        assert (x["answer"], x["start"], x["end"], x["no_answer"]) == (ref["answer"], ref["start"], ref["end"], ref["no_answer"])
        # batches padded to other widths: float noise only, in fp32 under 1e-3; in bf16 (what --precision auto picks for
        # a model that passed its check, on a CPU with native bf16) one step of bf16 at these scores is 0.03
        assert x["score"] == pytest.approx(ref["score"], abs=0.07 if ANSWERED_IN["precision"] == "bf16" else 1e-3)
        assert [a["text"] for a in x["alternatives"]] == [a["text"] for a in ref["alternatives"]][:2]


def test_predict_answers_every_row_as_the_python_api(trained, rows, reference, tmp_path, capsys):
    (tmp_path / "q.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "a.jsonl"
    assert main(["predict", "--model", str(trained[0] / "best"), "--input", str(tmp_path / "q.jsonl"), "--output", str(out), "--top-k", "2", "--chunk-rows", "50"]) == 0
    lines = read(out)
    same_answers(lines, reference, rows)
    assert [x["row"] for x in lines] == list(range(1, len(rows) + 1))
    assert any(x["no_answer"] for x in lines) and any(not x["no_answer"] for x in lines)
    for x, r in zip(lines, rows):
        if not x["no_answer"]:
            assert r["context"][x["start"]:x["end"]] == x["answer"]
    assert f"{len(rows):,} answered, 0 already there, 0 with an error" in capsys.readouterr().err


@pytest.mark.parametrize("layout", ["parquet", "squad", "list"])
def test_predict_reads_every_layout(trained, rows, reference, tmp_path, layout):
    src = tmp_path / f"q.{'parquet' if layout == 'parquet' else 'json'}"
    if layout == "parquet":
        write_rows(str(src), [{k: r[k] for k in ("question", "context", "id")} for r in rows], "parquet")
    elif layout == "squad":
        src.write_text((trained[1] / "dev.json").read_text())
    else:
        src.write_text(json.dumps([{"id": r["id"], "question": r["question"], "context": r["context"]} for r in rows]))
    assert main(["predict", "--model", str(trained[0] / "best"), "--input", str(src), "--output", str(tmp_path / "a.jsonl"), "--top-k", "2"]) == 0
    same_answers(read(tmp_path / "a.jsonl"), reference, rows)


def test_bad_rows_get_error_lines_and_the_rest_is_answered(trained, rows, tmp_path, capsys):
    good = [{"question": r["question"], "context": r["context"]} for r in rows[:6]]  # no ids: the row number stands in
    bad = [dict(good[0], question="   "), {"context": "x"}, dict(good[1], context=7), dict(good[2], question="Who\ud800?"),
           dict(good[3], id=True), dict(good[4], id="dup"), dict(good[5], id="dup")]
    (tmp_path / "q.jsonl").write_text("".join(json.dumps(r) + "\n" for r in good + bad))
    out = tmp_path / "a.jsonl"
    assert main(["predict", "--model", str(trained[0] / "best"), "--input", str(tmp_path / "q.jsonl"), "--output", str(out)]) == 1
    lines = read(out)
    assert [x["row"] for x in lines] == list(range(1, 14)) and [x["id"] for x in lines[:6]] == [1, 2, 3, 4, 5, 6]
    assert all("answer" in x for x in lines[:6]) and "error" not in lines[11]
    assert [x.get("error") for x in lines[6:]] == [
        "question: empty", "question: missing", "context: should be a string, got 7",
        "question: holds a lone surrogate at character 3 (not valid Unicode)", "id: should be a string or an integer, got true",
        None, "id: 'dup' repeats row 12; ids must be unique"]
    err = capsys.readouterr().err
    assert "7 answered, 0 already there, 6 with an error" in err and "error: 6 row(s) could not be answered" in err
    # run again: nothing to do, but the output still holds errors, so still exit 1 — and no line doubled
    assert main(["predict", "--model", str(trained[0] / "best"), "--input", str(tmp_path / "q.jsonl"), "--output", str(out)]) == 1
    assert read(out) == lines
    assert "0 answered, 13 already there" in capsys.readouterr().err


def test_a_torn_last_line_is_answered_again(trained, rows, tmp_path, capsys):
    (tmp_path / "q.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:40]))
    args = ["predict", "--model", str(trained[0] / "best"), "--input", str(tmp_path / "q.jsonl"), "--output", str(tmp_path / "a.jsonl")]
    assert main(args) == 0
    whole = (tmp_path / "a.jsonl").read_bytes()
    cut = whole.index(b"\n", len(whole) // 2) + 30  # 30 bytes into a line
    (tmp_path / "a.jsonl").write_bytes(whole[:cut])
    capsys.readouterr()
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "the last line was cut off by an interruption" in err
    done = whole[:cut].count(b"\n")
    assert f"{40 - done} answered, {done} already there" in err
    assert [x["row"] for x in read(tmp_path / "a.jsonl")] == list(range(1, 41))


@pytest.mark.parametrize("content", [b'{"question": "Who?", "context": "Ann wrote it."}', b"my notes, one line and no newline", b"\xff\xfe",
                                     b'{"id": "q-important", "question": "Who sat?", "context": "My one precious row."}'])  # whole, as json.dump leaves it
def test_a_file_of_one_line_without_newline_that_predict_did_not_write_is_never_cut(trained, rows, tmp_path, capsys, content):
    """Only the start of an answer line can be a torn last line: a user's one-line file given as --output is
    refused, byte for byte untouched (it was once cut to nothing as "torn")."""
    (tmp_path / "q.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:3]))
    (tmp_path / "notes.jsonl").write_bytes(content)
    assert main(["predict", "--model", str(trained[0] / "best"), "--input", str(tmp_path / "q.jsonl"), "--output", str(tmp_path / "notes.jsonl")]) == 2
    assert "is not an output of `predict`: pass another --output" in capsys.readouterr().err
    assert (tmp_path / "notes.jsonl").read_bytes() == content


@pytest.mark.parametrize("content", ["[]", '{"data": []}'])
def test_input_without_questions_is_one_line_and_no_output(trained, tmp_path, capsys, content):
    """As evaluate says it: exit 2 and no output file (it once wrote an empty one and said "0 answered")."""
    (tmp_path / "q.json").write_text(content)
    assert main(["predict", "--model", str(trained[0] / "best"), "--input", str(tmp_path / "q.json"), "--output", str(tmp_path / "a.jsonl")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"error: {tmp_path / 'q.json'}: holds no questions; pass at least one row as --input"
    assert not (tmp_path / "a.jsonl").exists()


def test_a_torn_first_line_is_answered_again(trained, rows, tmp_path, capsys):
    """A kill during the very first write leaves a piece of one answer line and nothing else: that is torn."""
    (tmp_path / "q.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:3]))
    for i, piece in enumerate((b'{"i', b'{"id": "x", "ro')):
        out = tmp_path / f"a{i}.jsonl"  # its own name: Python shows a warning once per text, and the text names the file
        out.write_bytes(piece)
        assert main(["predict", "--model", str(trained[0] / "best"), "--input", str(tmp_path / "q.jsonl"), "--output", str(out)]) == 0
        assert "the last line was cut off by an interruption" in capsys.readouterr().err
        assert [x["row"] for x in read(out)] == [1, 2, 3]


def test_killed_run_resumes_without_losing_or_doubling_a_row(trained, rows, tmp_path):
    many = [dict(r, id=f"{r['id']}-{k}") for k in range(3) for r in rows]  # ~1,200 rows: a few seconds of work
    (tmp_path / "q.jsonl").write_text("".join(json.dumps(r) + "\n" for r in many))
    out = tmp_path / "a.jsonl"
    cmd = [sys.executable, "-m", "albert_bench", "predict", "--model", str(trained[0] / "best"), "--input", str(tmp_path / "q.jsonl"),
           "--output", str(out), "--chunk-rows", "16"]
    p = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    t = time.time()
    while not (out.exists() and out.stat().st_size > 20_000) and time.time() - t < 120:
        assert p.poll() is None, p.communicate()
        time.sleep(0.01)
    p.send_signal(signal.SIGKILL)
    p.wait()
    before = out.read_bytes().count(b"\n")
    assert 0 < before < len(many)
    assert main(cmd[3:]) == 0  # resumed in this process: no second interpreter start
    lines = read(out)
    assert [x["id"] for x in lines] == [m["id"] for m in many]  # each row exactly once, in order


def _launch(n=2):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(n), "--num_machines", "1",
            "--main_process_port", str(port), "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "albert_bench"]


def test_two_processes_under_accelerate_launch_write_one_output(trained, rows, reference, tmp_path):
    (tmp_path / "q.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "a.jsonl"
    # an earlier, interrupted run by three processes left parts: they count as written and are merged
    third = [json.dumps({"id": rows[i]["id"], "row": i + 1, "answer": "FROM-PART", "start": None, "end": None, "score": 0.0,
                         "no_answer": True, "alternatives": []}) for i in (0, 3)]
    (tmp_path / "a.jsonl.part-0-of-3").write_text("\n".join(third) + "\n")
    r = subprocess.run([*_launch(), "predict", "--model", str(trained[0] / "best"), "--input", str(tmp_path / "q.jsonl"),
                        "--output", str(out), "--top-k", "2", "--chunk-rows", "32"], env=ENV, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"{len(rows) - 2:,} answered, 2 already there, 0 with an error (2 processes)" in r.stderr
    assert sorted(os.listdir(tmp_path)) == ["a.jsonl", "q.jsonl"]  # parts merged and removed
    lines = read(out)
    assert [x["row"] for x in lines] == list(range(1, len(rows) + 1))  # each row once, in row order
    assert [lines[i]["answer"] for i in (0, 3)] == ["FROM-PART", "FROM-PART"]
    rest = [i for i in range(len(rows)) if i not in (0, 3)]
    same_answers([lines[i] for i in rest], [reference[i] for i in rest], [rows[i] for i in rest])


@pytest.mark.parametrize("args, needle", [
    (["--output", "a.json"], "predictions are JSON Lines; name the file OUT.jsonl"),
    (["--output", "a.jsonl", "--top-k", "0"], "--top-k 0: expected at least 1 and at most 20"),
    (["--output", "a.jsonl", "--chunk-rows", "0"], "--chunk-rows 0: pass 1 to 1,000,000"),
    (["--output", "a.jsonl", "--dataset", "squad_v2"], "--input FILE or as --dataset"),
])
def test_bad_arguments_are_one_line(trained, tmp_path, capsys, args, needle, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "q.jsonl").write_text('{"question": "Q?", "context": "C."}\n')
    assert main(["predict", "--model", str(trained[0] / "best"), "--input", "q.jsonl", *args]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and needle in err, err
    assert not (tmp_path / "a.jsonl").exists()


def test_output_that_is_not_a_predict_output_is_refused(trained, tmp_path, capsys):
    (tmp_path / "q.jsonl").write_text('{"question": "Q?", "context": "C."}\n')
    (tmp_path / "a.jsonl").write_text('{"something": "else"}\n{"id": 1, "row": 1}\n')
    assert main(["predict", "--model", str(trained[0] / "best"), "--input", str(tmp_path / "q.jsonl"), "--output", str(tmp_path / "a.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "is not an output of `predict`" in err and len(err.strip().splitlines()) == 1
    assert (tmp_path / "a.jsonl").read_text().startswith('{"something"')  # left as it was


def test_resume_onto_an_output_of_other_input_is_refused(trained, rows, tmp_path, capsys):
    """Rows without ids are known by their row numbers: a resumed run must not take another file's answers for them."""
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text("".join(json.dumps({"question": r["question"], "context": r["context"]}) + "\n" for r in rows[:5]))
    b.write_text("".join(json.dumps({"question": r["question"], "context": r["context"]}) + "\n" for r in rows[5:12]))
    out = tmp_path / "o.jsonl"
    assert main(["predict", "--model", str(trained[0] / "best"), "--input", str(a), "--output", str(out)]) == 0
    before = out.read_bytes()
    capsys.readouterr()
    assert main(["predict", "--model", str(trained[0] / "best"), "--input", str(b), "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert "holds an answer for id 1 (row 1) to another question or context" in err and len(err.strip().splitlines()) == 1
    assert out.read_bytes() == before


def test_resume_with_another_model_or_settings_is_refused(trained, rows, tmp_path, capsys):
    """A resumed run must not append another model's answers (or other settings') to an output: the file would
    read as one model's answers."""
    import shutil

    q, out = tmp_path / "q.jsonl", tmp_path / "o.jsonl"
    q.write_text("".join(json.dumps(r) + "\n" for r in rows[:4]))
    best = trained[0] / "best"
    assert main(["predict", "--model", str(best), "--input", str(q), "--output", str(out)]) == 0
    q.write_text("".join(json.dumps(r) + "\n" for r in rows[:8]))  # more rows: a resume would answer the new ones
    before = out.read_bytes()
    other = tmp_path / "other"
    shutil.copytree(best, other)
    (other / "README.md").write_text("a rewritten card")  # not part of answering: still the same model
    saved = (other / "qa_config.json").read_bytes()
    cfg = json.loads(saved)
    from albert_bench.qa import QuestionAnswerer

    auto = QuestionAnswerer.from_pretrained(str(best)).precision  # what the first run (--precision auto) answered in
    for model, extra in ((best, ["--top-k", "2"]), (best, ["--precision", "fp32" if auto == "bf16" else "bf16"]), (other, [])):
        if model == other:
            (other / "qa_config.json").write_text(json.dumps({**cfg, "null_threshold": cfg["null_threshold"] + 1.0}))
        capsys.readouterr()
        assert main(["predict", "--model", str(model), "--input", str(q), "--output", str(out), *extra]) == 2, extra
        err = capsys.readouterr().err
        assert "its answers came from another model, or with another --backend, --precision or --top-k" in err and len(err.strip().splitlines()) == 1
        assert out.read_bytes() == before
    # the same model in another folder, card rewritten, an evaluation written beside it, same settings: resumed
    (other / "qa_config.json").write_bytes(saved)
    # (evaluate refuses to write into the model it reads; its files are copied there, as a person might)
    assert main(["evaluate", "--model", str(other), "--data", str(trained[1] / "dev.json"), "--out", str(tmp_path / "ev")]) == 0
    for f in (tmp_path / "ev").iterdir():
        shutil.copy(f, other / f.name)
    assert main(["predict", "--model", str(other), "--input", str(q), "--output", str(out)]) == 0
    lines = read(out)
    assert [x["row"] for x in lines] == list(range(1, 9)) and len({x["answered_by"] for x in lines}) == 1
    # asking by name for the precision auto picked is the same answerer (the hash is of what answers): accepted
    assert main(["predict", "--model", str(other), "--input", str(q), "--output", str(out), "--precision", auto]) == 0
    # lines from an older version, without answered_by: resumed, with a warning that they could not be checked
    out.write_text("".join(json.dumps({k: v for k, v in x.items() if k != "answered_by"}) + "\n" for x in lines[:6]))
    capsys.readouterr()
    assert main(["predict", "--model", str(best), "--input", str(q), "--output", str(out)]) == 0
    assert "6 line(s) written by an older albert-bench say nothing of the model" in capsys.readouterr().err
    assert [x["row"] for x in read(out)] == list(range(1, 9))


@pytest.mark.parametrize("content, needle", [
    ("parquet-no-columns", "no question or context column (it has foo, bar)"),
    ("parquet-cut", "not a readable Parquet file"),
])
def test_unusable_input_is_one_line_before_any_work(trained, tmp_path, capsys, content, needle):
    src = tmp_path / "q.parquet"
    write_rows(str(src), [{"foo": 1, "bar": "x"}] * 3 if content == "parquet-no-columns" else [{"question": "Q?", "context": "C."}] * 30, "parquet")
    if content == "parquet-cut":
        src.write_bytes(src.read_bytes()[:60])
    assert main(["predict", "--model", str(trained[0] / "best"), "--input", str(src), "--output", str(tmp_path / "a.jsonl")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and needle in err, err
    assert not (tmp_path / "a.jsonl").exists()


def test_one_row_json_lines_and_squad_with_bad_gold_answers_are_answered(trained, tmp_path):
    (tmp_path / "one.jsonl").write_text('{"question": "What is the city of Grace?", "context": "The city of Grace is Vienna."}\n')
    squad = {"version": "v2.0", "data": [{"title": "T", "paragraphs": [{"context": "The city of Grace is Vienna.", "qas": [
        {"id": "x", "question": "What is the city of Grace?", "answers": [{"text": "Vienna", "answer_start": 500}]}]}]}]}
    (tmp_path / "squad.json").write_text(json.dumps(squad))  # answer_start outside the context: gold is not predict's business
    for src in ("one.jsonl", "squad.json"):
        assert main(["predict", "--model", str(trained[0] / "best"), "--input", str(tmp_path / src), "--output", str(tmp_path / f"{src}.jsonl")]) == 0
        lines = read(tmp_path / f"{src}.jsonl")
        assert len(lines) == 1 and "answer" in lines[0]


def test_predict_reads_a_dataset_split_through_datasets(trained, rows, reference, tmp_path):
    """`--dataset DIR:...:SPLIT` (a local folder, as `datasets` reads one): the same answers as the file."""
    (tmp_path / "ds").mkdir()
    write_rows(str(tmp_path / "ds" / "validation.parquet"), [{k: r[k] for k in ("id", "question", "context")} for r in rows], "parquet")
    out = tmp_path / "a.jsonl"
    assert main(["predict", "--model", str(trained[0] / "best"), "--dataset", str(tmp_path / "ds"), "--output", str(out), "--top-k", "2"]) == 0
    same_answers(read(out), reference, rows)


@pytest.mark.parametrize("size", ["0", "-1"])
def test_batch_size_below_one_is_one_line_before_anything_is_written(trained, tmp_path, capsys, size):
    q = tmp_path / "q.jsonl"
    q.write_text(json.dumps({"question": "Who?", "context": "Ann."}) + "\n")
    assert main(["predict", "--model", str(trained[0] / "best"), "--input", str(q), "--output", str(tmp_path / "a.jsonl"), "--batch-size", size]) == 2
    err = capsys.readouterr().err
    assert f"--batch-size {size}: expected at least 1" in err and err.count("\n") == 1 and not (tmp_path / "a.jsonl").exists()
