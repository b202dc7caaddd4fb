"""Every file in and out: the one JSON reader, the download cache against a real HTTP server on loopback, and
each command's hostile inputs through the real CLI (one line, exit 2, never a traceback)."""

import contextlib
import http.server
import json
import os
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from albert_bench.cli import main
from albert_bench.data import load_squad, parse_squad
from albert_bench.errors import BenchError
from albert_bench.files import dir_sha256, file_sha256, guess_encoding, parse_json, read_json, read_jsonl, write_json_atomic

GOOD = {"version": "v2.0", "data": [{"title": "T", "paragraphs": [{"context": "The quick brown fox jumps.", "qas": [
    {"id": "q1", "question": "Who jumps?", "answers": [{"text": "fox", "answer_start": 16}], "is_impossible": False},
    {"id": "q2", "question": "Who sleeps?", "answers": [], "is_impossible": True}]}]}]}


def one_line_error(capsys, *names) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    for n in names:
        assert n in err, err
    return err


# ---------------------------------------------------------------- the reader


@pytest.mark.parametrize("content, message", [
    (b"", "empty; expected JSON"),
    (b"  \n", "empty; expected JSON"),
    (b"{not json", "not valid JSON (line 1, column 2: Expecting property name enclosed in double quotes)"),
    (b"[" * 100_000 + b"]" * 100_000, "JSON nested too deeply (more than ~900 levels)"),
    (b'{"answer_start": ' + b"9" * 5000 + b"}", "a number of 5,000 characters (999999999999...); numbers may have at most 100"),
    (b'{"answer_start": ' + b"9" * 101 + b"}", "a number of 101 characters (999999999999...); numbers may have at most 100"),
    (b'{"x": NaN}', "NaN is not a JSON number; write null or a finite number"),
    (b'{"x": -Infinity}', "-Infinity is not a JSON number; write null or a finite number"),
    (b'{"x": 1e400}', "the number 1e400 is too large to represent"),
    (b'{"x": -1e400}', "the number -1e400 is too large to represent"),
    ('{"x": "café"}'.encode("latin-1"), "not UTF-8 text (invalid byte at position 10; it looks like Latin-1/Windows-1252: save it as UTF-8)"),
    ('{"x": "café"}'.encode("utf-16"), "not UTF-8 text (invalid byte at position 0; it looks like UTF-16 LE: save it as UTF-8)"),
    ('{"x": "café"}'.encode("utf-16-le"), "not UTF-8 text (invalid byte at position 20; it looks like UTF-16 LE: save it as UTF-8)"),  # no BOM
    ('{"x": "café"}'.encode("utf-16-be"), "not UTF-8 text (invalid byte at position 21; it looks like UTF-16 BE: save it as UTF-8)"),
    (b"\xfe\xff" + '{"x": "café"}'.encode("utf-16-be"), "not UTF-8 text (invalid byte at position 0; it looks like UTF-16 BE: save it as UTF-8)"),
    ('{"x": "café"}'.encode("utf-32"), "not UTF-8 text (invalid byte at position 0; it looks like UTF-32 LE: save it as UTF-8)"),
    (b"\x00\x00\xfe\xff" + '{"x": "café"}'.encode("utf-32-be"), "not UTF-8 text (invalid byte at position 2; it looks like UTF-32 BE: save it as UTF-8)"),
    (b'{"x": "\x81\x8d\x8f\x90\x9d"}', "not UTF-8 text (invalid byte at position 7; save it as UTF-8)"),  # not cp1252 either: no guess
])
def test_reader_refuses_with_one_line(tmp_path, content, message):
    """The whole line, so that a changed word, a lost guess or a wrong encoding name fails here."""
    f = tmp_path / "x.json"
    f.write_bytes(content)
    with pytest.raises(BenchError) as e:
        read_json(str(f), "a test file")
    assert str(e.value) == f"{f}: {message}; pass a test file"


def test_a_number_of_exactly_the_limit_is_read():
    assert parse_json(b'{"x": ' + b"9" * 100 + b"}") == {"x": int("9" * 100)}
    assert parse_json(b"[1.5, -2, 0]") == [1.5, -2, 0]


def test_an_object_may_hold_max_keys_and_not_one_more():
    assert parse_json(b'{"a": 1, "b": {"c": 2, "d": 3}}', max_keys=2) == {"a": 1, "b": {"c": 2, "d": 3}}
    with pytest.raises(BenchError) as e:
        parse_json(b'{"a": 1, "b": 2, "c": 3}', max_keys=2)
    assert str(e.value) == "an object with 3 keys; at most 2 are expected here"
    assert len(parse_json(b"{" + b",".join(b'"k%d": 0' % i for i in range(5000)) + b"}")) == 5000  # no limit by default


@pytest.mark.parametrize("data, guess", [
    (b"\xff\xfeab", "UTF-16 LE"),  # a byte-order mark decides, whatever follows
    (b"\xfe\xffab", "UTF-16 BE"),
    (b"\xff\xfe\x00\x00ab", "UTF-32 LE"),
    (b"\x00\x00\xfe\xffab", "UTF-32 BE"),
    (b"\xe9\x00a\x00", "UTF-16 LE"),  # no mark: four bytes are enough to see every other byte is zero
    (b"\x00\xe9\x00a", "UTF-16 BE"),
    (b"\xe9\x00a", "Latin-1/Windows-1252"),  # three are not
    (b"\xe9\x00a\x00cdef", "Latin-1/Windows-1252"),  # zeros in exactly a quarter of the bytes: not UTF-16
    (b"\x00\xe9\x00acdef", "Latin-1/Windows-1252"),
    (b"\xe9\x00a\x00c\x00efgh", "UTF-16 LE"),  # 3 of 10 (more than 10 // 4 = 2)
    # only the first 400 bytes are looked at: 100 zeros at even places in them (not more than 400 // 4), a 101st at 400
    (b"\x00\xe9" + b"\x00a" * 99 + b"bc" * 100 + b"\x00", "Latin-1/Windows-1252"),
    (b"\x81\x8d\x8f\x90\x9d", None),  # not cp1252 either: no guess
])
def test_guess_encoding_at_its_boundaries(data, guess):
    assert guess_encoding(data) == guess


def test_file_and_folder_hashes(tmp_path):
    """file_sha256 reads in 1 MiB blocks: a file over 2 MiB has the hash of all its bytes; dir_sha256 changes with
    any file's name or bytes, not with a subfolder."""
    import hashlib

    big = tmp_path / "m" / "weights.bin"
    big.parent.mkdir()
    data = os.urandom(1 << 20) * 2 + b"tail"
    big.write_bytes(data)
    assert file_sha256(big) == hashlib.sha256(data).hexdigest()
    (tmp_path / "m" / "config.json").write_text("{}")
    h = dir_sha256(tmp_path / "m")
    assert len(h) == 64 and dir_sha256(tmp_path / "m") == h
    (tmp_path / "m" / "sub").mkdir()
    (tmp_path / "m" / "sub" / "x").write_text("ignored")
    assert dir_sha256(tmp_path / "m") == h
    (tmp_path / "m" / "config.json").write_text("{ }")
    assert dir_sha256(tmp_path / "m") != h
    (tmp_path / "m" / "config.json").write_text("{}")
    os.rename(tmp_path / "m" / "config.json", tmp_path / "m" / "config2.json")
    assert dir_sha256(tmp_path / "m") != h
    # the hash keys the users' feature and fixture caches: the same folder must hash the same in every version
    golden = tmp_path / "golden"
    golden.mkdir()
    (golden / "config.json").write_bytes(b"{}")
    (golden / "w.bin").write_bytes(b"abc")
    assert dir_sha256(golden) == "7eb8bf2a0dfbe15c7b0569746edc3810d9a50e71c8ad08dc8e960062683d0d08"


def test_reader_accepts_a_utf8_bom_and_names_a_directory_or_unreadable_file(tmp_path):
    f = tmp_path / "bom.json"
    f.write_bytes(b"\xef\xbb\xbf" + json.dumps({"x": "café"}).encode())
    assert read_json(str(f), "x") == {"x": "café"}
    with pytest.raises(BenchError, match="is a directory; pass"):
        read_json(str(tmp_path), "a file")
    locked = tmp_path / "locked.json"
    locked.write_text("{}")
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):  # root reads anything: check the message through a real open failure instead
            with pytest.raises(BenchError, match="no such file"):
                read_json(str(tmp_path / "missing.json"), "a file")
        else:
            with pytest.raises(BenchError, match="not readable"):
                read_json(str(locked), "a file")
    finally:
        locked.chmod(0o644)


def test_torn_last_line_of_a_log_is_dropped_with_a_warning(tmp_path):
    f = tmp_path / "metrics.jsonl"
    f.write_text('{"step": 1}\n{"step": 2}\n{"st')
    seen = []
    assert read_jsonl(str(f), "x", warn=seen.append) == [{"step": 1}, {"step": 2}] and "last line is incomplete" in seen[0]
    f.write_text('{"step": 1}\n{"st\n{"step": 3}\n')
    with pytest.raises(BenchError, match="line 2"):
        read_jsonl(str(f), "x")


def test_one_nan_rule_for_every_json_writer(tmp_path):
    """NaN and infinities (a diverged model) are written as null, with one warning naming the file, by every JSON
    writer: a JSON file, a set of them, JSON Lines rows and the metrics log. What is written is strict JSON."""
    from albert_bench.files import read_jsonl, write_json_set
    from albert_bench.formats import write_rows
    from albert_bench.rundir import append_metrics, read_metrics

    bad = {"f1": float("nan"), "loss": [1.0, float("inf")], "ok": 2.5}
    want = {"f1": None, "loss": [1.0, None], "ok": 2.5}
    with pytest.warns(UserWarning, match=r"m\.json: 2 value\(s\) were NaN or infinite"):
        write_json_atomic(str(tmp_path / "m.json"), bad)
    with pytest.warns(UserWarning, match=r"b\.json: 2 value"):
        write_json_set({str(tmp_path / "a.json"): {"x": 1}, str(tmp_path / "b.json"): bad})
    with pytest.warns(UserWarning, match=r"rows\.jsonl: 2 value"):
        write_rows(str(tmp_path / "rows.jsonl"), [bad], "jsonl")
    with pytest.warns(UserWarning, match=r"metrics\.jsonl: 2 value"):
        append_metrics(str(tmp_path), {"step": 1, **bad})
    for name in ("m.json", "b.json"):
        assert parse_json((tmp_path / name).read_bytes()) == want
    assert read_jsonl(str(tmp_path / "rows.jsonl"), "rows") == [want] and read_metrics(str(tmp_path)) == [{"step": 1, **want}]
    assert sorted(os.listdir(tmp_path)) == ["a.json", "b.json", "m.json", "metrics.jsonl", "rows.jsonl"]  # no temporary file left


def test_atomic_write_keeps_the_old_file_on_any_failure(tmp_path):
    """A block that fails, or a write over a real file-size limit (RLIMIT_FSIZE, as a full disk): the old file is
    untouched, no temporary file stays, and a failed write is one BenchError line naming what and where."""
    import resource
    import subprocess
    import sys

    from albert_bench.files import atomic_write

    f = tmp_path / "keep.txt"
    f.write_text("old")
    with pytest.raises(ZeroDivisionError):
        with atomic_write(str(f)) as fh:
            fh.write("new")
            1 / 0
    assert f.read_text() == "old" and os.listdir(tmp_path) == ["keep.txt"]
    code = (f"import resource; resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))\n"
            f"from albert_bench.files import atomic_write\n"
            f"from albert_bench.errors import BenchError\n"
            f"try:\n    with atomic_write({str(f)!r}, what='the notes') as fh: fh.write('x' * 5000); fh.flush()\n"
            f"except BenchError as e: print(e)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.startswith(f"could not write the notes {f} (File too large") and r.stdout.count("\n") == 1, (r.stdout, r.stderr)
    assert f.read_text() == "old" and os.listdir(tmp_path) == ["keep.txt"]
    assert resource.getrlimit(resource.RLIMIT_FSIZE)[0] != 1000  # the limit was the child's alone


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=200), st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                                                       lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.sampled_from(
                                                           ["data", "paragraphs", "qas", "context", "question", "id", "answers", "text",
                                                            "answer_start", "is_impossible", "title", "version"]), kids, max_size=5),
                                                       max_leaves=30)))
def test_squad_reader_returns_data_or_its_one_line_error(value):
    """Random bytes and random JSON shapes (SQuAD's own keys, any values): the reader returns data or raises the
    tool's one-line error, never another exception."""
    try:
        raw = parse_json(value) if isinstance(value, bytes) else parse_json(json.dumps(value))
        sq = parse_squad(raw, "f.json")
    except BenchError as e:
        assert "\n" not in str(e)
        return
    except ValueError:  # json.dumps of NaN/inf produces NaN tokens: those must be refused as BenchError
        raise
    for e in sq.examples:
        assert isinstance(e.question, str) and e.question.strip() and all(isinstance(a.start, int) and not isinstance(a.start, bool) for a in e.answers)


# ---------------------------------------------------------------- the download cache, against a real server


@contextlib.contextmanager
def http_server(routes: dict):
    """A real HTTP server on 127.0.0.1: path → (status, headers, body, declared length or None)."""
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            status, ctype, body, length = routes[self.path]
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body) if length is None else length))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
            self.close_connection = True

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}", hits
    finally:
        srv.shutdown()
        srv.server_close()


def squad_bytes(answer="fox", start=16):
    raw = json.loads(json.dumps(GOOD))
    raw["data"][0]["paragraphs"][0]["qas"][0]["answers"][0] = {"text": answer, "answer_start": start}
    return json.dumps(raw).encode()


def test_cache_is_keyed_by_the_whole_url(tmp_path):
    a, b = squad_bytes("fox", 16), squad_bytes("quick", 4)
    with http_server({"/a/dev.json": (200, "application/json", a, None), "/b/dev.json": (200, "application/json", b, None)}) as (url, hits):
        first = load_squad(url + "/a/dev.json", cache_dir=str(tmp_path))
        second = load_squad(url + "/b/dev.json", cache_dir=str(tmp_path))
        again = load_squad(url + "/a/dev.json", cache_dir=str(tmp_path))
    assert first.examples[0].answers[0].text == again.examples[0].answers[0].text == "fox"
    assert second.examples[0].answers[0].text == "quick"  # not a's file
    assert hits == ["/a/dev.json", "/b/dev.json"]  # the third read came from the cache
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len([n for n in names if n.endswith("-dev.json")]) == 2 and all(n.endswith(("-dev.json", ".url")) for n in names)
    url_files = [tmp_path / n for n in names if n.endswith(".url")]
    assert sorted(f.read_text().strip() for f in url_files) == [url + "/a/dev.json", url + "/b/dev.json"]  # readable for people


@pytest.mark.parametrize("route, needle", [
    ((200, "application/json", squad_bytes()[:50], 100_000), "the download stopped after 50 of 100,000 bytes"),
    ((200, "text/html", b"<!doctype html><html><body>Rate limited</body></html>", None), "not a valid file for --data (not valid JSON"),
    ((200, "application/json", b'{"data": 3}', None), "not a valid file for --data"),
    ((404, "text/html", b"not found", None), "(HTTP 404 Not Found)"),
])
def test_bad_downloads_are_one_line_and_never_cached(tmp_path, capsys, route, needle):
    with http_server({"/x/dev.json": route}) as (url, _):
        os.environ["ALBERT_BENCH_CACHE"], old = str(tmp_path), os.environ.get("ALBERT_BENCH_CACHE")
        try:
            assert main(["score", "--data", url + "/x/dev.json", "--predictions", str(tmp_path / "p.json")]) == 2
        finally:
            os.environ["ALBERT_BENCH_CACHE"] = old
    one_line_error(capsys, url + "/x/dev.json", needle)
    assert list(tmp_path.rglob("*")) == []  # nothing cached, no .part, no folder left


def test_url_that_names_no_file(capsys):
    assert main(["data", "stats", "http://127.0.0.1:9/"]) == 2
    one_line_error(capsys, "the URL names no file")


# ---------------------------------------------------------------- every command's inputs and outputs


@pytest.fixture
def good(tmp_path):
    f = tmp_path / "good.json"
    f.write_text(json.dumps(GOOD))
    return f


@pytest.mark.parametrize("preds, needle", [
    ({"q1": "fox", "q2": 5}, "the value for id 'q2' is 5; expected answer text"),
    (["fox"], "expected a JSON object"),
    ({"q1": "fo\ud800x", "q2": ""}, "holds a lone surrogate"),
])
def test_score_bad_predictions(tmp_path, good, capsys, preds, needle):
    p = tmp_path / "p.json"
    p.write_text(json.dumps(preds))
    assert main(["score", "--data", str(good), "--predictions", str(p)]) == 2
    one_line_error(capsys, str(p), needle)


@pytest.mark.parametrize("content, needle", [
    (b'{"q1": NaN, "q2": 1.0}', "NaN is not a JSON number"),
    (b'{"q1": Infinity, "q2": 1.0}', "Infinity is not a JSON number"),
    (b'{"q1": true, "q2": 1.0}', "the value for id 'q1' is true; expected a number"),
    (b'{"q1": "0.5", "q2": 1.0}', "the value for id 'q1' is \"0.5\""),
])
def test_score_bad_no_answer_odds(tmp_path, good, capsys, content, needle):
    p, n = tmp_path / "p.json", tmp_path / "n.json"
    p.write_text(json.dumps({"q1": "fox", "q2": ""}))
    n.write_bytes(content)
    assert main(["score", "--data", str(good), "--predictions", str(p), "--na-probs", str(n)]) == 2
    one_line_error(capsys, str(n), needle)


def test_score_inputs_as_directory_encodings_and_empty_data(tmp_path, good, capsys):
    p = tmp_path / "p.json"
    assert main(["score", "--data", str(good), "--predictions", str(tmp_path)]) == 2
    one_line_error(capsys, "is a directory")
    for enc, guess in (("latin-1", "Latin-1"), ("utf-16", "UTF-16 LE")):
        p.write_bytes(json.dumps({"q1": "café", "q2": ""}, ensure_ascii=False).encode(enc))
        assert main(["score", "--data", str(good), "--predictions", str(p)]) == 2
        one_line_error(capsys, "not UTF-8", guess)
    empty = tmp_path / "empty.json"
    empty.write_text('{"version": "v2.0", "data": []}')
    p.write_text("{}")
    assert main(["score", "--data", str(empty), "--predictions", str(p)]) == 2
    one_line_error(capsys, "holds no questions")
    assert main(["score", "--data", str(good), "--predictions", str(p), "--na-prob-thresh", "nan"]) == 2
    one_line_error(capsys, "--na-prob-thresh nan")


def test_score_output_is_valid_json(tmp_path, good, capsys):
    p, n = tmp_path / "p.json", tmp_path / "n.json"
    p.write_text(json.dumps({"q1": "fox", "q2": ""}))
    n.write_text(json.dumps({"q1": 0.1, "q2": 0.9}))
    assert main(["score", "--data", str(good), "--predictions", str(p), "--na-probs", str(n)]) == 0
    out = capsys.readouterr().out
    json.loads(out, parse_constant=lambda c: pytest.fail(f"{c} in the output"))


def test_evaluate_out_is_checked_before_predicting(tmp_path, good, capsys):
    taken = tmp_path / "taken"
    taken.write_text("a file")
    assert main(["evaluate", "--model", str(tmp_path / "no-model"), "--data", str(good), "--out", str(taken)]) == 2
    one_line_error(capsys, "--out", "exists and is not a directory")  # said before the missing model


def test_ask_context_file_and_command_line_encodings(tmp_path, capsys):
    latin = tmp_path / "latin.txt"
    latin.write_bytes("Le café est à Paris.".encode("latin-1"))
    cases = [(["--context-file", str(tmp_path)], "is a directory"),
             (["--context-file", str(tmp_path / "missing.txt")], "no such file"),
             (["--context-file", str(latin)], "not UTF-8 text"),
             (["--context", "Le caf\udce9 est ici."], "--context: not valid UTF-8 text (at character 6)")]
    for extra, needle in cases:
        assert main(["ask", "--model", str(tmp_path / "no-model"), "--question", "Where?"] + extra) == 2
        one_line_error(capsys, needle)
    assert main(["ask", "--model", str(tmp_path), "--question", "Wh\udcffere?", "--context", "Here."]) == 2
    one_line_error(capsys, "--question: not valid UTF-8 text")


def test_output_locations_are_checked_before_work(tmp_path, good, capsys):
    taken = tmp_path / "taken"
    taken.write_text("a file")
    for argv in (["data", "split", str(good), "--out", str(taken)], ["data", "synth", "--out", str(taken)],
                 ["data", "split", str(good), "--out", str(taken / "below")]):
        assert main(argv) == 2
        one_line_error(capsys, str(taken))
    assert taken.read_text() == "a file"
    # a folder where one file of a set goes: refused before any of the set is written (no train.json without its dev.json)
    split = tmp_path / "split"
    (split / "dev.json").mkdir(parents=True)
    assert main(["data", "split", str(good), "--out", str(split)]) == 2
    one_line_error(capsys, f"{split / 'dev.json'}: is a directory")  # checked before the input is read
    assert os.listdir(split) == ["dev.json"]


def test_one_writer_per_output_for_every_command_that_writes(trained, tmp_path, capsys):
    """Another process writing an output (here: a helper that holds the lock `files.hold` takes): every command
    that writes that output stops at once in one line naming it, and leaves what is there as it was."""

    run, d = trained
    outs = {"predict": tmp_path / "a.jsonl", "evaluate": tmp_path / "ev", "export": tmp_path / "onnx", "report": tmp_path / "r.html",
            "convert": tmp_path / "rows.jsonl", "split": tmp_path / "split"}
    (tmp_path / "q.jsonl").write_text(json.dumps({"id": "1", "question": "Who?", "context": "Ann."}) + "\n")
    outs["predict"].write_text("")
    with holding(f"for p in {[str(p) for p in outs.values()]!r}: hold(p, 'holder', '--out')") as holder:
        best, dev = str(run / "best"), str(d / "dev.json")
        commands = {
            "predict": ["predict", "--model", best, "--input", str(tmp_path / "q.jsonl"), "--output", str(outs["predict"])],
            "evaluate": ["evaluate", "--model", best, "--data", dev, "--out", str(outs["evaluate"])],
            "export": ["export", "--model", best, "--onnx", "--out", str(outs["export"])],
            "report": ["report", str(run), "--out", str(outs["report"])],
            "convert": ["data", "convert", dev, "--out", str(outs["convert"])],
            "split": ["data", "split", dev, "--out", str(outs["split"])],
        }
        for name, argv in commands.items():
            before = sorted(p.name for p in tmp_path.iterdir())
            assert main(argv) == 2, name
            one_line_error(capsys, f"is in use by process {holder.pid} (albert-bench holder)")
            assert sorted(p.name for p in tmp_path.iterdir()) == before and outs["predict"].read_text() == ""
    # the holder gone (even by kill -9), the lock is free: the next writer proceeds
    assert main(commands["convert"]) == 0 and outs["convert"].exists()


@contextlib.contextmanager
def holding(calls: str):
    """Another process that has run `calls` (files.hold ...) and waits: yielded once it holds them, killed (-9)
    when the block ends, which frees its locks."""
    import subprocess
    import sys

    holder = subprocess.Popen([sys.executable, "-c", "import time\nfrom albert_bench.files import hold\n" + calls +
                               "\nprint('held', flush=True)\ntime.sleep(120)\n"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        holder.kill()
        holder.wait()


@contextlib.contextmanager
def trickle_server(chunk: bytes, every: float, declared: int | None = None):
    """A real HTTP server on 127.0.0.1 that sends `chunk` every `every` seconds, for ever."""
    import time

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            if declared is not None:
                self.send_header("Content-Length", str(declared))
            self.end_headers()
            try:
                while True:
                    self.wfile.write(chunk)
                    self.wfile.flush()
                    time.sleep(every)
            except OSError:
                pass

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/x/dev.json"
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.mark.parametrize("env, chunk, every, declared, words", [
    ({"ALBERT_BENCH_DOWNLOAD_SECONDS": "2"}, b"{", 0.5, None, "the download took longer than 2 s"),  # a byte at a time, never idle 30 s
    ({"ALBERT_BENCH_DOWNLOAD_MAX_BYTES": "1000000"}, b" " * 65536, 0.0, None, "the server sent more than 1,000,000 bytes"),  # endless
    ({"ALBERT_BENCH_DOWNLOAD_MAX_BYTES": "1000000"}, b" ", 0.0, 5_000_000_000, "it is 5,000,000,000 bytes, above the 1,000,000 allowed"),
])
def test_downloads_are_bounded_in_time_and_size_and_leave_nothing(tmp_path, env, chunk, every, declared, words):
    import subprocess
    import sys

    with trickle_server(chunk, every, declared) as url:
        r = subprocess.run([sys.executable, "-m", "albert_bench", "data", "stats", url], capture_output=True, text=True, timeout=120,
                           env={**os.environ, **env, "ALBERT_BENCH_CACHE": str(tmp_path / "cache")})
    assert r.returncode == 2 and "Traceback" not in r.stderr and words in r.stderr.strip().splitlines()[-1], r.stderr[-500:]
    assert not (tmp_path / "cache").exists()  # no .part, no folder


def test_a_download_stopped_by_sigterm_leaves_no_part_file(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    with trickle_server(b"{", 0.2) as url:
        p = subprocess.Popen([sys.executable, "-m", "albert_bench", "data", "stats", url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env={**os.environ, "ALBERT_BENCH_CACHE": str(tmp_path / "cache")})
        deadline = time.monotonic() + 180  # until the download has begun (its .part file exists): a loaded machine starts slowly
        while not list((tmp_path / "cache").rglob("*.part")) and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list((tmp_path / "cache").rglob("*.part")), p.poll()
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
    assert p.returncode != 0 and "Traceback" not in err
    assert not (tmp_path / "cache").exists()  # the .part and the folders made for it are gone


def test_every_read_is_bounded_per_row_and_per_file(trained, tmp_path, capsys):
    """ALBERT_BENCH_MAX_TEXT_BYTES (1 MiB): a --context-file above it, a JSON Lines line above it (read no
    further than the cap), a Parquet row above it: one line each; a predict row above it: that row's error line."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from albert_bench.files import MAX_TEXT_BYTES

    best = str(trained[0] / "best")
    big = "word " * (MAX_TEXT_BYTES // 5 + 10)
    ctx = tmp_path / "ctx.txt"
    ctx.write_text(big)
    assert main(["ask", "--model", best, "--question", "Who?", "--context-file", str(ctx)]) == 2
    one_line_error(capsys, f"{ctx} is {len(big):,} bytes, above the {MAX_TEXT_BYTES:,} allowed")
    none = {"text": [], "answer_start": []}
    rows = [{"id": "a", "question": "Who?", "context": "Ann.", "answers": none}, {"id": "b", "question": "Who?", "context": big, "answers": none}]
    jl = tmp_path / "rows.jsonl"
    jl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["data", "stats", str(jl)]) == 2
    one_line_error(capsys, f"{jl}: line 2 is", f"above the {MAX_TEXT_BYTES:,} allowed")
    pq.write_table(pa.table({"id": ["a", "b"], "question": ["Who?"] * 2, "context": ["Ann.", big], "answers": [none, none]}), tmp_path / "rows.parquet")
    assert main(["data", "stats", str(tmp_path / "rows.parquet")]) == 2
    one_line_error(capsys, "rows.parquet: row 2 is", "above the")
    # predict: the big row gets an error line, the others their answers
    out = tmp_path / "a.jsonl"
    single = tmp_path / "one.json"  # a JSON list of rows: read whole, checked per row
    single.write_text(json.dumps(rows))
    assert main(["predict", "--model", best, "--input", str(single), "--output", str(out)]) == 1
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert "error" not in lines[0] and "characters, above the" in lines[1]["error"]


def test_a_parquet_text_column_stored_as_bytes_is_read_as_text_or_named(tmp_path, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    good = tmp_path / "b.parquet"
    pq.write_table(pa.table({"id": ["1"], "title": ["t"], "context": [b"The fox."], "question": [b"Who?"],
                             "answers": [{"text": [b"fox"], "answer_start": [4]}]}), good)
    assert main(["data", "stats", str(good), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["questions"] == 1
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"id": ["1"], "context": [b"\xff\xfe fox"], "question": ["Who?"], "answers": [{"text": [], "answer_start": []}]}), bad)
    assert main(["data", "stats", str(bad)]) == 2
    one_line_error(capsys, "row 1: column 'context' holds bytes that are not UTF-8 text")


def test_an_output_may_not_be_or_hold_or_lie_inside_an_input(trained, tmp_path, capsys):
    """For every command that reads a file or a model and writes: the output as the input itself, as a folder
    holding it, inside the model directory, or the same place through a symbolic link: one line, nothing written."""
    import shutil

    run, d = trained
    model = tmp_path / "model"
    shutil.copytree(run / "best", model)
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(d / "dev.json", data / "dev.json")
    (tmp_path / "link").symlink_to(data)
    (tmp_path / "q.jsonl").write_text(json.dumps({"question": "Who?", "context": "Ann."}) + "\n")
    snapshot = lambda: {str(p): p.stat().st_mtime_ns for p in tmp_path.rglob("*")}  # noqa: E731
    cases = [
        (["data", "convert", str(data / "dev.json"), "--out", str(tmp_path / "link" / "dev.json")], "FILE"),
        (["predict", "--model", str(model), "--input", str(tmp_path / "q.jsonl"), "--output", str(model / "answers.jsonl")], "--model"),
        (["predict", "--model", str(model), "--input", str(tmp_path / "q.jsonl"), "--output", str(tmp_path / "q.jsonl")], "--input"),
        (["evaluate", "--model", str(model), "--data", str(data / "dev.json"), "--out", str(data)], "--data"),
        (["evaluate", "--model", str(model), "--data", str(data / "dev.json"), "--out", str(model / "eval")], "--model"),
        (["train", "--model", str(model), "--train-file", str(data / "dev.json"), "--dev-file", str(data / "dev.json"),
          "--run-dir", str(model), "--epochs", "1"], "--model"),
        (["data", "split", str(data / "dev.json"), "--out", str(tmp_path / "link")], "FILE"),
    ]
    for argv, flag in cases:
        before = snapshot()
        assert main(argv) == 2, argv
        one_line_error(capsys, f"would write over {flag}")
        assert snapshot() == before, argv


def test_a_folder_where_the_temporary_file_goes_is_one_line_and_stays(tmp_path):
    """atomic_write's temporary name is taken by a folder: the write fails in one line naming the file, and the
    cleanup neither hides that error behind a traceback nor deletes the folder."""
    from albert_bench.files import atomic_write

    path = tmp_path / "out.json"
    (tmp_path / f"out.json.tmp{os.getpid()}").mkdir()
    with pytest.raises(BenchError, match=r"could not write the file .*out\.json"):
        with atomic_write(str(path)) as fh:
            fh.write("{}")
    assert (tmp_path / f"out.json.tmp{os.getpid()}").is_dir() and not path.exists()


# ---------------------------------------------------------------- the ground floor's lines, word for word
# (a changed word, a lost hint or a wrong default shows here; the commands' tests check the same lines in context)


def _message(fn, *args, **kw) -> str:
    with pytest.raises(BenchError) as e:
        fn(*args, **kw)
    return str(e.value)


def test_readers_say_what_is_wrong_word_for_word(tmp_path):
    from albert_bench.files import read_bytes, read_text

    missing, folder, plain = tmp_path / "missing.json", tmp_path / "d", tmp_path / "plain.txt"
    folder.mkdir()
    plain.write_bytes(b"abc")
    assert _message(read_bytes, str(missing), "a SQuAD file") == f"{missing}: no such file; pass a SQuAD file"
    assert _message(read_bytes, str(folder), "a SQuAD file") == f"{folder}: is a directory; pass a SQuAD file"
    assert _message(read_bytes, str(plain / "x"), "a SQuAD file") == f"{plain / 'x'}: cannot be read (Not a directory); pass a SQuAD file"
    assert _message(read_json, str(missing), "a SQuAD file") == f"{missing}: no such file; pass a SQuAD file"  # not named twice
    assert read_bytes(str(plain), "x", max_bytes=3) == b"abc"  # at the limit
    assert _message(read_bytes, str(plain), "x", max_bytes=2) == (
        f"{plain} is 3 bytes, above the 2 allowed (ALBERT_BENCH_MAX_TEXT_BYTES); split it into passages, or raise the limit")
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbfcaf\xc3\xa9")
    assert read_text(str(tmp_path / "bom.txt"), "x") == "café"
    (tmp_path / "latin.txt").write_bytes("café".encode("latin-1"))
    assert _message(read_text, str(tmp_path / "latin.txt"), "a passage") == (
        f"{tmp_path / 'latin.txt'}: not UTF-8 text (invalid byte at position 3; it looks like Latin-1/Windows-1252); save it as UTF-8 or pass a passage")
    (tmp_path / "odd.txt").write_bytes(b"\x81\x8d")
    assert _message(read_text, str(tmp_path / "odd.txt"), "a passage") == (
        f"{tmp_path / 'odd.txt'}: not UTF-8 text (invalid byte at position 0); save it as UTF-8 or pass a passage")


def test_json_lines_skip_blank_lines_and_name_a_bad_one(tmp_path):
    log = tmp_path / "metrics.jsonl"
    log.write_text('{"a": 1}\n\n  \n{"a": 2}\n{"a": 3}\n')
    assert read_jsonl(str(log), "a log") == [{"a": 1}, {"a": 2}, {"a": 3}]  # a blank line is skipped, not the end
    log.write_text('{"a": 1}\n{"a": \n{"a": 3}\n')
    assert _message(read_jsonl, str(log), "a log") == f"{log}: line 2: not valid JSON (line 1, column 7: Expecting value); pass a log"
    log.write_text('{"a": 1}\n{"a": 2}\n{"a"')
    said = []
    assert read_jsonl(str(log), "a log", warn=said.append) == [{"a": 1}, {"a": 2}]
    assert said == [f"{log}: the last line is incomplete (not valid JSON (line 1, column 5: Expecting ':' delimiter)); reading the 2 lines before it"]
    with pytest.warns(UserWarning) as caught:
        read_jsonl(str(log), "a log")
    assert caught[0].filename == __file__  # the warning points at the caller of read_jsonl, not inside files.py


def test_json_text_keeps_text_as_written_and_turns_nan_into_null_with_one_warning():
    from albert_bench.files import json_kind, json_text

    assert json_text({"q": "café ☃"}) == '{"q": "café ☃"}'
    with pytest.warns(UserWarning) as caught:
        assert json_text({"q": "é", "x": [float("nan"), 1.0, float("inf")]}) == '{"q": "é", "x": [null, 1.0, null]}'
    assert [str(w.message) for w in caught] == ["output: 2 value(s) were NaN or infinite (a diverged model?); written as null"]
    with pytest.warns(UserWarning, match=r"^run/metrics.json: 1 value\(s\)"):
        json_text({"x": float("nan")}, where="run/metrics.json")
    assert [json_kind(v) for v in (True, 1, 1.5, "s", [], {}, None, b"")] == [
        "a boolean", "a number", "a number", "a string", "a list", "an object", "null", "bytes"]


def test_writers_say_what_is_wrong_word_for_word(tmp_path):
    import subprocess
    import sys

    from albert_bench.files import atomic_write, too_big, write_failed, write_json_set

    (tmp_path / "taken").mkdir()
    with pytest.raises(BenchError) as e:
        with atomic_write(str(tmp_path / "taken")):
            pass
    assert str(e.value) == f"{tmp_path / 'taken'}: is a folder, where a file is to be written; move it away, then run the command again"
    with pytest.warns(UserWarning) as caught:
        write_json_set({str(tmp_path / "nan.json"): {"x": float("nan")}})
    assert caught[0].filename == __file__  # the warning points at whoever asked for the write
    assert _message(write_json_atomic, str(tmp_path / "taken"), {}) == (
        f"{tmp_path / 'taken'}: is a folder, where a file is to be written; move it away, then run the command again")
    assert _message(write_json_set, {str(tmp_path / "taken"): {}}).endswith("move it away, then run the command again")
    with atomic_write(str(tmp_path / "b.bin"), "wb") as fh:
        fh.write(b"\x00\xff")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\xff"
    write_json_set({str(tmp_path / "s.json"): {"a": [1, "é"]}})
    assert (tmp_path / "s.json").read_text(encoding="utf-8") == '{\n "a": [\n  1,\n  "é"\n ]\n}'  # indent 1, as written before
    assert str(too_big("the context", 2_000_000, 1_000_000)) == (
        "the context is 2,000,000 bytes, above the 1,000,000 allowed (ALBERT_BENCH_MAX_TEXT_BYTES); split it into passages, or raise the limit")
    st_ = os.statvfs(tmp_path)
    gib = st_.f_bavail * st_.f_frsize / 2**30
    line = str(write_failed("the model", str(tmp_path / "m"), ValueError("first line " + "x" * 300 + "\nsecond line")))
    reason = "first line " + "x" * 189
    assert line.startswith(f"could not write the model {tmp_path / 'm'} ({reason}; ") and line.endswith(
        " GiB free there); free some space or fix the permissions, then continue with --resume"), line
    assert abs(float(line.split("; ")[1].split(" GiB")[0]) - gib) < 0.05
    assert str(write_failed("x", "/nonexistent-root-dir/x", OSError(28, "No space left on device"))) == (
        "could not write x /nonexistent-root-dir/x (No space left on device; free space unknown); "
        "free some space or fix the permissions, then continue with --resume")
    # a write over a real file-size limit inside a set: named as "the file", with the set's `then`
    f = tmp_path / "big.json"
    code = ("import resource, signal; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))\n"
            "from albert_bench.files import write_json_set\nfrom albert_bench.errors import BenchError\n"
            f"try:\n    write_json_set({{{str(f)!r}: {{'x': 'y' * 100_000}}}}, then='try again')\nexcept BenchError as e: print(e)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.startswith(f"could not write the file {f} (File too large; ") and r.stdout.rstrip().endswith("then try again"), (r.stdout, r.stderr)


def test_text_limit_is_one_mib_unless_the_environment_says(tmp_path):
    import subprocess
    import sys

    code = "import albert_bench.files as f; print(f.MAX_TEXT_BYTES)"
    env = {k: v for k, v in os.environ.items() if k != "ALBERT_BENCH_MAX_TEXT_BYTES"}
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout.strip() == str(1 << 20)
    env["ALBERT_BENCH_MAX_TEXT_BYTES"] = "5e3"
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout.strip() == "5000"


@pytest.mark.parametrize("name, what", [(".albert-bench-run", "a training run"), ("config.json", "a model"), ("qa_config.json", "a model"),
                                        ("model.safetensors", "a model"), ("pytorch_model.bin", "a model"), ("model.onnx", "a model")])
def test_data_is_not_written_into_a_run_or_a_model(tmp_path, name, what):
    from albert_bench.files import check_data_output

    (tmp_path / name).write_text("{}")
    assert _message(check_data_output, str(tmp_path), "--out") == f"--out {tmp_path}: {tmp_path} holds {what} ({name}); write data to another folder"
    assert _message(check_data_output, str(tmp_path / "rows.jsonl"), "--out", kind="file") == (
        f"--out {tmp_path / 'rows.jsonl'}: {tmp_path} holds {what} ({name}); write data to another folder")
    if name in (".albert-bench-run", "config.json"):
        check_data_output(str(tmp_path / "sub"), "--out")  # a new folder inside a run is its own place
    else:  # but not one inside a model (its weights or qa_config.json): push would upload it with the model
        assert _message(check_data_output, str(tmp_path / "sub"), "--out") == (
            f"--out {tmp_path / 'sub'}: lies inside {tmp_path}, which holds a model ({name}); write data to another folder")


def test_output_checks_word_for_word(tmp_path):
    from albert_bench.files import check_output

    (tmp_path / "f").write_text("x")
    (tmp_path / "d").mkdir()
    assert _message(check_output, str(tmp_path / "f"), "--out") == f"--out {tmp_path / 'f'}: exists and is not a directory; pass a directory for the outputs"
    assert _message(check_output, str(tmp_path / "d"), "--out", kind="file") == f"--out {tmp_path / 'd'}: is a directory; pass a file name"
    assert _message(check_output, str(tmp_path / "f" / "a" / "b"), "--out") == (
        f"--out {tmp_path / 'f' / 'a' / 'b'}: {tmp_path / 'f'} is a file, not a directory; pass another location")
    assert _message(check_output, str(tmp_path / "f" / "x.json"), "--out", kind="file") == (
        f"--out {tmp_path / 'f' / 'x.json'}: {tmp_path / 'f'} is a file, not a directory; pass another location")
    check_output(str(tmp_path / "d"), "--out")
    check_output(str(tmp_path / "d" / "new" / "x.json"), "--out", kind="file")


def test_the_lock_lets_a_single_writer_in_until_released(tmp_path):
    """The lock itself, without a model: a folder output keeps DIR/.lock, a file output gets .NAME.lock beside it
    (removed on release); a second process is refused in one line naming the holder; holding twice in one
    process is a no-op; a holder killed with -9 frees the output."""
    import subprocess
    import sys

    from albert_bench.files import hold, release_all

    run, out = tmp_path / "run", tmp_path / "preds" / "predictions.json"
    with holding(f"hold({str(run)!r}, 'train', '--run-dir', is_dir=True)\nhold({str(out)!r}, 'evaluate', '--out')") as holder:
        lock = run / ".lock"
        assert lock.read_text() == f"process {holder.pid} (albert-bench train)\n" and (lock.stat().st_mode & 0o777) == 0o644
        assert (tmp_path / "preds" / ".predictions.json.lock").read_text() == f"process {holder.pid} (albert-bench evaluate)\n"
        assert _message(hold, str(run), "train", "--run-dir", is_dir=True) == (
            f"{run} is in use by process {holder.pid} (albert-bench train); wait for it to finish, or pass another --run-dir")
        assert _message(hold, str(out), "predict", "--out") == (
            f"{out} is in use by process {holder.pid} (albert-bench evaluate); wait for it to finish, or pass another --out")
    try:
        hold(str(run), "train", "--run-dir", is_dir=True)  # the dead holder's lock is free
        hold(str(run), "train", "--run-dir", is_dir=True)  # and holding it again here changes nothing
        hold(str(out), "evaluate", "--out")
        hold(str(tmp_path / "new" / "x.json"), "export", "--out")  # its folder is made
        assert (run / ".lock").read_text() == f"process {os.getpid()} (albert-bench train)\n"
        assert (tmp_path / "new" / ".x.json.lock").exists()
    finally:
        release_all()
    assert (run / ".lock").exists() and not (tmp_path / "preds" / ".predictions.json.lock").exists()
    assert not (tmp_path / "new" / ".x.json.lock").exists()
    # a lock held by a process that wrote nothing in it (not one of ours): "another process"
    import fcntl

    fd = os.open(tmp_path / ".held.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        r = subprocess.run([sys.executable, "-c", "from albert_bench.files import hold\nfrom albert_bench.errors import BenchError\n"
                            f"try: hold({str(tmp_path / 'held')!r}, 'x', '--out')\nexcept BenchError as e: print(e)"], capture_output=True, text=True)
    finally:
        os.close(fd)
    assert r.stdout.strip() == f"{tmp_path / 'held'} is in use by another process; wait for it to finish, or pass another --out"
    fd = os.open(tmp_path / ".held.lock", os.O_RDWR)  # one that wrote bytes that are not UTF-8 in it
    os.write(fd, b"\xffprocess 7")
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        r = subprocess.run(r.args, capture_output=True, text=True)
    finally:
        os.close(fd)
    assert r.stdout.strip() == f"{tmp_path / 'held'} is in use by \ufffdprocess 7; wait for it to finish, or pass another --out", r.stderr


def test_replace_dir_swaps_a_folder_and_leaves_nothing_behind(tmp_path):
    from albert_bench.files import replace_dir

    new, final = tmp_path / "new", tmp_path / "model"
    new.mkdir()
    (new / "w").write_text("2")
    replace_dir(str(new), str(final))  # nothing there yet
    assert (final / "w").read_text() == "2" and sorted(os.listdir(tmp_path)) == ["model"]
    new.mkdir()
    (new / "w").write_text("3")
    replace_dir(str(new), str(final))  # over the old one: it is gone, with the folder it was moved to
    assert (final / "w").read_text() == "3" and sorted(os.listdir(tmp_path)) == ["model"]


def test_a_replaced_folder_gets_the_modes_the_umask_allows(tmp_path):
    """mkdtemp makes 0700 and safetensors writes 0600: the finished folder is 755/644 under umask 022, as mkdir
    and open would make it, and stays private under umask 077."""
    import stat
    import tempfile

    from albert_bench.files import replace_dir

    for mask, folder_mode, file_mode in ((0o022, 0o755, 0o644), (0o077, 0o700, 0o600)):
        old = os.umask(mask)
        try:
            tmp = tempfile.mkdtemp(dir=tmp_path)
            os.makedirs(os.path.join(tmp, "sub"))
            for name in ("model.safetensors", "sub/x.json"):
                fd = os.open(os.path.join(tmp, name), os.O_WRONLY | os.O_CREAT, 0o600)
                os.close(fd)
            final = tmp_path / f"model-{mask:o}"
            replace_dir(tmp, str(final))
        finally:
            os.umask(old)
        modes = {str(p.relative_to(final)): stat.S_IMODE(p.stat().st_mode) for p in [final, *final.rglob("*")]}
        assert modes == {".": folder_mode, "sub": folder_mode, "model.safetensors": file_mode, "sub/x.json": file_mode}, modes


def test_an_output_may_not_be_an_input_hold_one_or_lie_inside_one(tmp_path, monkeypatch):
    from albert_bench.files import check_not_input

    data, model = tmp_path / "dev.json", tmp_path / "model"
    data.write_text("{}")
    model.mkdir()
    (tmp_path / "link.json").symlink_to(data)
    # the inputs that are skipped first: each is passed over, not the end of the check
    inputs = {"--none": None, "--url": "https://example.org/dev.json", "--gone": str(tmp_path / "gone"), "--data": str(data), "--model": str(model)}
    for out, flag, path in ((data, "--data", data), (tmp_path / "link.json", "--data", data), (tmp_path, "--data", data),
                            (model / "preds", "--model", model), (model, "--model", model)):
        assert _message(check_not_input, str(out), "--out", inputs) == (
            f"--out {out} would write over {flag} {path} (an output may not be an input, hold one, or lie inside one); "
            "pass another place for the output")
    for out in (tmp_path / "preds", tmp_path / "model2", tmp_path / "dev.json.out"):  # beside them, or a longer name
        check_not_input(str(out), "--out", inputs)
    check_not_input(str(tmp_path / "missing" / "x"), "--out", {"--data": str(tmp_path / "missing")})  # an input that is not there
    monkeypatch.chdir(tmp_path)
    (tmp_path / "https:").mkdir()
    (tmp_path / "https:" / "x").write_text("a file whose relative path reads like a URL")
    check_not_input(str(tmp_path / "https:" / "x"), "--out", {"--url": "https://x"})  # a URL is never taken as a path


def test_what_cannot_be_read_or_written_for_permissions():
    """A folder without write permission and a file without read permission, for an unprivileged user: root reads
    and writes anything, so as root the check runs as `nobody` (setpriv) on a world-readable copy of the ground
    floor (files.py needs only the standard library)."""
    import shutil
    import stat
    import subprocess
    import sys

    import tempfile

    # outside pytest's temporary root, which only its owner may enter
    base = Path(tempfile.mkdtemp(prefix="albert-bench-perm-"))
    base.chmod(0o755)
    request_cleanup = lambda: shutil.rmtree(base, ignore_errors=True)  # noqa: E731
    (base / "ro").mkdir()
    (base / "secret").write_text("x")
    code = ("from albert_bench.files import check_output, read_bytes\nfrom albert_bench.errors import BenchError\n"
            f"for f in (lambda: check_output({str(base / 'ro' / 'out')!r}, '--out'), lambda: check_output({str(base / 'ro' / 'a.json')!r}, '--out', kind='file'),\n"
            f"          lambda: check_output({str(base / 'ro')!r}, '--out'),\n"
            f"          lambda: read_bytes({str(base / 'secret')!r}, 'a file')):\n"
            "    try: f()\n    except BenchError as e: print(e)\n")
    (base / "ro").chmod(0o555)
    (base / "secret").chmod(0o600)
    if os.geteuid() != 0:
        try:
            r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        finally:
            (base / "ro").chmod(0o755)
            request_cleanup()
    else:
        python = next((p for p in (sys.executable, "/usr/bin/python3") if os.access(p, os.X_OK) and
                       subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", p, "-c", "pass"],
                                      capture_output=True).returncode == 0), None)
        assert shutil.which("setpriv") and python, "needs setpriv and a Python that user nobody may run"
        pkg = base / "src" / "albert_bench"
        pkg.mkdir(parents=True)
        src = Path(__file__).resolve().parents[1] / "src" / "albert_bench"
        for name in ("__init__.py", "files.py", "errors.py"):
            shutil.copy(src / name, pkg / name)
        for p in [base / "src", pkg, *pkg.iterdir()]:
            p.chmod(p.stat().st_mode | stat.S_IROTH | stat.S_IXOTH)
        try:
            r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", python, "-c", code], capture_output=True, text=True,
                               env={"PYTHONPATH": str(base / "src"), "PATH": os.environ["PATH"]}, cwd=base)
        finally:
            request_cleanup()
    assert r.stdout.splitlines() == [
        f"--out {base / 'ro' / 'out'}: {base / 'ro'} is not writable; pass another location",
        f"--out {base / 'ro' / 'a.json'}: {base / 'ro'} is not writable; pass another location",
        f"--out {base / 'ro'}: {base / 'ro'} is not writable; pass another location",  # the folder itself, though its parent is writable
        f"{base / 'secret'}: not readable (permission denied); fix its permissions or pass a file"], r.stderr


def test_a_forked_child_releases_its_own_locks_not_its_parents(tmp_path):
    """release_all in a child made by fork: the parent's locks (inherited in the table) stay the parent's; the
    child's own are released."""
    from albert_bench.files import hold, release_all

    hold(str(tmp_path / "parent.json"), "evaluate", "--out")
    try:
        pid = os.fork()
        if pid == 0:  # the child: hold its own, release, report by exit code
            code = 1
            try:
                hold(str(tmp_path / "child.json"), "predict", "--out")
                release_all()
                code = 0 if not (tmp_path / ".child.json.lock").exists() and (tmp_path / ".parent.json.lock").exists() else 3
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert (tmp_path / ".parent.json.lock").exists()
    finally:
        release_all()
    assert not (tmp_path / ".parent.json.lock").exists()


def test_an_out_folder_s_files_are_replaced_only_if_albert_bench_wrote_them(tmp_path):
    """`write_outputs`: into a new folder, or over its own earlier outputs (named in the folder's mark); a file
    of the same name that albert-bench did not write there is one line, and nothing is written."""
    from albert_bench.files import OUTPUTS_MARK, check_ours, write_outputs

    out = tmp_path / "out"
    write_outputs(str(out), "--out", {"train.json": [1], "dev.json": [2]})
    write_outputs(str(out), "--out", {"train.json": [3], "dev.json": [4]})  # its own earlier outputs: replaced
    assert json.loads((out / "train.json").read_text()) == [3]
    assert [line.split("\t")[0] for line in (out / OUTPUTS_MARK).read_text().splitlines()] == ["dev.json", "train.json"]
    (out / "train.json").write_text('{"the user": "copied their own data over ours"}')  # the name is ours, the file is not
    with pytest.raises(BenchError, match="already holds train.json, which albert-bench did not write there"):
        write_outputs(str(out), "--out", {"train.json": [5], "dev.json": [6]})
    assert (out / "train.json").read_text() == '{"the user": "copied their own data over ours"}'
    (out / OUTPUTS_MARK).write_bytes(b"\xff\xfe garbage\n" * 10)  # a mark of another shape counts for nothing
    with pytest.raises(BenchError, match="already holds train.json, dev.json"):
        check_ours(str(out), "--out", ["train.json", "dev.json"])
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "dev.json").write_text("the user's own")
    (mine / "notes.txt").write_text("unrelated")
    with pytest.raises(BenchError) as e:
        write_outputs(str(mine), "--out", {"train.json": [1], "dev.json": [2]})
    assert str(e.value) == f"--out {mine}: already holds dev.json, which albert-bench did not write there; pass a new or empty folder, or move it away"
    assert sorted(p.name for p in mine.iterdir()) == ["dev.json", "notes.txt"] and (mine / "dev.json").read_text() == "the user's own"
    check_ours(str(mine), "--out", ["train.json", "metrics.json"])  # other names may go beside the user's files
    check_ours(str(tmp_path / "new"), "--out", ["dev.json"])


def test_devices_and_pipes_are_read_no_further_than_the_limit(tmp_path):
    """/dev/zero says size 0 and never ends: a bounded read stops at the limit, an unbounded one refuses it."""
    from albert_bench.files import read_bytes

    with pytest.raises(BenchError) as e:
        read_bytes("/dev/zero", "a passage", max_bytes=1000)
    assert str(e.value).startswith("/dev/zero holds more than the 1,000 bytes allowed")
    with pytest.raises(BenchError) as e:
        read_json("/dev/zero", "the predictions (--predictions)")
    assert str(e.value) == "/dev/zero: not a regular file (a device or a pipe); save it to a file and pass the predictions (--predictions)"
    assert main(["data", "stats", "/dev/zero"]) == 2


def test_a_key_given_twice_in_one_json_object_is_one_line(tmp_path, capsys):
    """json keeps the last of two equal keys: a predictions file's second answer for one id would be scored
    silently. Every JSON reader refuses it (parse_json), naming the key."""
    with pytest.raises(BenchError) as e:
        parse_json('{"a": 1, "b": [{"id": "x", "id": "y"}]}')
    assert str(e.value) == "the key 'id' appears twice in one object; keep one"
    assert parse_json('{"a": {"id": 1}, "b": {"id": 2}}') == {"a": {"id": 1}, "b": {"id": 2}}  # the same key in two objects is fine
    from tests.conftest import DATA

    dev = DATA / "squad2" / "dev-v2.0.json"
    qid = json.load(open(dev))["data"][0]["paragraphs"][0]["qas"][0]["id"]
    (tmp_path / "p.json").write_text(f'{{"{qid}": "right", "{qid}": "wrong"}}')
    assert main(["score", "--data", str(dev), "--predictions", str(tmp_path / "p.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {tmp_path / 'p.json'}") and f"the key {qid!r} appears twice" in err[0], err


def test_one_output_spelt_two_ways_is_one_lock(tmp_path, monkeypatch):
    """`--out .`, `--out $PWD`, `d/../d` and a link to the folder name one folder: one lock, so two writers are
    kept apart."""
    from albert_bench.files import _held_locks, hold, release_all

    (tmp_path / "d").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "d")
    monkeypatch.chdir(tmp_path / "d")
    try:
        for spelling in (".", str(tmp_path / "d"), "../d/", str(tmp_path / "alias"), "../alias/"):
            hold(spelling, "data split", "--out")
        assert len(_held_locks) == 1 and list(_held_locks.values())[0][1] == str(tmp_path / ".d.lock")
    finally:
        release_all()
