"""Every file in and out: the one JSON reader, the download cache against a real HTTP server on loopback, and
each command's hostile inputs through the real CLI (one line, exit 2, never a traceback)."""

import contextlib
import http.server
import json
import os
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from albert_bench.cli import main
from albert_bench.data import load_squad, parse_squad
from albert_bench.errors import BenchError
from albert_bench.files import parse_json, read_json, read_jsonl, write_json_atomic

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


@pytest.mark.parametrize("content, needle", [
    (b"", "empty; expected JSON"),
    (b"  \n", "empty; expected JSON"),
    (b"{not json", "not valid JSON (line 1, column 2"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'{"answer_start": ' + b"9" * 5000 + b"}", "a number of 5,000 characters"),
    (b'{"x": NaN}', "NaN is not a JSON number"),
    (b'{"x": -Infinity}', "-Infinity is not a JSON number"),
    (b'{"x": 1e400}', "the number 1e400 is too large"),
    ('{"x": "café"}'.encode("latin-1"), "not UTF-8 text (invalid byte at position 10; it looks like Latin-1/Windows-1252"),
    ('{"x": "café"}'.encode("utf-16"), "it looks like UTF-16 LE"),
    ('{"x": "café"}'.encode("utf-16-le"), "it looks like UTF-16 LE"),  # no BOM
    ('{"x": "café"}'.encode("utf-16-be"), "it looks like UTF-16 BE"),
])
def test_reader_refuses_with_one_line(tmp_path, content, needle):
    f = tmp_path / "x.json"
    f.write_bytes(content)
    with pytest.raises(BenchError) as e:
        read_json(str(f), "a test file")
    msg = str(e.value)
    assert msg.startswith(f"{f}: ") and needle in msg and msg.endswith("pass a test file") and "\n" not in msg, msg


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
    import subprocess
    import sys

    run, d = trained
    outs = {"predict": tmp_path / "a.jsonl", "evaluate": tmp_path / "ev", "export": tmp_path / "onnx", "report": tmp_path / "r.html",
            "convert": tmp_path / "rows.jsonl", "split": tmp_path / "split"}
    (tmp_path / "q.jsonl").write_text(json.dumps({"id": "1", "question": "Who?", "context": "Ann."}) + "\n")
    outs["predict"].write_text("")
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nfrom albert_bench.files import hold\n"
        f"for p in {[str(p) for p in outs.values()]!r}: hold(p, 'holder', '--out')\n"
        "print('held', flush=True)\ntime.sleep(120)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
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
    finally:
        holder.kill()
        holder.wait()
    # the holder gone (even by kill -9), the lock is free: the next writer proceeds
    assert main(commands["convert"]) == 0 and outs["convert"].exists()


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
        for _ in range(600):  # until the download has begun: its .part file exists
            if list((tmp_path / "cache").rglob("*.part")) if (tmp_path / "cache").exists() else []:
                break
            time.sleep(0.05)
        assert list((tmp_path / "cache").rglob("*.part"))
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
