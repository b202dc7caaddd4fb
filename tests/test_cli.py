"""The command line as a newcomer meets it: --help that explains every argument, --version, plain-text output."""

import argparse

import pytest

from albert_bench import __version__
from albert_bench.cli import build_parser, main


def _parsers(p, path=("albert-bench",)):
    yield path, p
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, path + (name,))


def test_every_argument_has_help_with_its_default_once_and_its_choices():
    problems = []
    for path, parser in _parsers(build_parser()):
        for a in parser._actions:
            if isinstance(a, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            where = f"{' '.join(path)} {'/'.join(a.option_strings) or a.dest}"
            if not a.help or a.help == argparse.SUPPRESS:
                problems.append(f"{where}: no help")
                continue
            if "(default: None)" in a.help or a.help.count("default") > 1:
                problems.append(f"{where}: default shown twice or as None: {a.help!r}")
            if a.choices and not isinstance(a, argparse._VersionAction):
                shown = parser.format_help()
                if not all(str(c) in shown for c in a.choices):
                    problems.append(f"{where}: choices hidden")
    assert problems == []


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"albert-bench {__version__}"


def test_plain_ask_lists_top_k_candidates_on_the_no_answer_path_too(trained, capsys):
    passage = "The city of Grace is Vienna. The job of Oscar is pilot."
    model = str(trained[0] / "best")
    assert main(["ask", "--model", model, "--question", "What is the pet of Grace?", "--context", passage, "--top-k", "4"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("no answer") and out[1] == "candidates:" and len(out) == 2 + 4
    assert all(line.startswith("  ") and "(chars " in line for line in out[2:])
    assert main(["ask", "--model", model, "--question", "What is the city of Grace?", "--context", passage, "--top-k", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Vienna\t") and out[1] == "other candidates:" and len(out) == 3


def test_problems_are_reported_all_at_once(tmp_path, capsys):
    """A newcomer fixes every input in one go, not one per run."""
    assert main(["ask", "--model", str(tmp_path / "no-model"), "--question", " ", "--context-file", str(tmp_path / "missing.txt"), "--top-k", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: 4 problems: (1) ") and "\n" not in err
    for needle in ("missing.txt: no such file", "--question is empty", "no-model: no such model directory", "--top-k 0: expected at least 1 and at most 20"):
        assert needle in err, needle
    taken = tmp_path / "taken"
    taken.write_text("x")
    assert main(["evaluate", "--model", str(tmp_path / "no-model"), "--data", str(tmp_path / "none.json"), "--out", str(taken)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: 3 problems:") and "exists and is not a directory" in err and "none.json: no such file" in err and "no-model" in err


def test_train_reports_every_bad_input_at_once_and_leaves_nothing_behind(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    r = subprocess.run([sys.executable, "-m", "albert_bench", "train", "--model", "no-org/no-model", "--train-file", str(tmp_path / "t.json"),
                        "--dev-file", str(tmp_path / "d.json"), "--run-dir", str(tmp_path / "run")], capture_output=True, text=True, env=env)
    assert r.returncode == 2
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("error: 3 problems:") and "t.json: no such file" in last and "d.json: no such file" in last and "no-org/no-model" in last
    assert not (tmp_path / "run").exists()


def test_a_hub_name_without_network_fails_fast_in_one_line(tmp_path):
    """No HF_HUB_OFFLINE, and a hub that accepts connections but never answers (a real socket on loopback): one
    line, after exactly one connection: the check's own time limit, not the hub client's retries."""
    import contextlib
    import os
    import socket
    import subprocess
    import sys
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    connections = []

    def accept():
        with contextlib.suppress(OSError):
            while True:
                connections.append(server.accept()[0])  # held open, never answered

    threading.Thread(target=accept, daemon=True).start()
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    env.update(HF_ENDPOINT=f"http://127.0.0.1:{server.getsockname()[1]}", HF_HOME=str(tmp_path / "hf"))
    good = tmp_path / "d.json"
    good.write_text('{"version": "v2.0", "data": [{"title": "T", "paragraphs": [{"context": "A cat.", "qas": [{"id": "1", "question": "What?", "answers": [], "is_impossible": true}]}]}]}')
    r = subprocess.run([sys.executable, "-m", "albert_bench", "train", "--model", "albert-base-v2", "--train-file", str(good), "--dev-file", str(good),
                        "--run-dir", str(tmp_path / "run")], capture_output=True, text=True, env=env, timeout=120)
    server.close()
    err = r.stderr.strip().splitlines()
    assert r.returncode == 2 and err[-1].startswith("error: albert-base-v2: cannot reach the Hugging Face hub") and "local model directory" in err[-1]
    assert "Retrying" not in r.stderr and len(err) == 1, err
    assert len(connections) == 1, len(connections)  # one request, given up on; no retry
    r = subprocess.run([sys.executable, "-m", "albert_bench", "train", "--model", "albert-base-v2", "--train-file", str(good), "--dev-file", str(good)],
                       capture_output=True, text=True, env={**env, "HF_HUB_OFFLINE": "1"}, timeout=120)
    assert r.returncode == 2 and "HF_HUB_OFFLINE is set" in r.stderr.strip().splitlines()[-1]


def test_serve_and_export_report_every_problem_at_once(tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.write_text("x")
    assert main(["serve", "--model", str(tmp_path / "no-model"), "--max-queue", "0", "--allowed-hosts", "a b", "--max-batch", "0", "--body-timeout-s", "nan"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: 5 problems:") and "--max-batch 0: expected at least 1" in err and "--max-queue 0: expected at least 1" in err and "--body-timeout-s nan: expected a finite number" in err and "a b is not a host name" in err and "no-model" in err
    assert main(["export", "--model", str(tmp_path / "no-model"), "--onnx", "--out", str(taken / "below")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: 2 problems:") and "no-model: no such model directory" in err and "is a file, not a directory" in err


def test_a_flag_is_spelled_out_or_refused(capsys):
    """argparse's prefix matching took `--epoch 1` for `--epochs 1`: off on every command."""
    for argv in (["train", "--epoch", "1"], ["data", "stats", "x.json", "--jso"], ["ask", "--model", "m", "--question", "q", "--context", "c", "--top", "2"]):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2 and "unrecognized arguments" in capsys.readouterr().err


def test_a_run_directory_answers_with_its_best_model(trained, capsys, tmp_path):
    run = str(trained[0])
    assert main(["ask", "--model", run, "--question", "What is the city of Grace?", "--context", "The city of Grace is Vienna."]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("Vienna\t") and f"{run} is a training run: answering with its best model, {run}/best" in err
    # card takes RUN/best as its run, not RUN/best/best
    assert main(["card", run + "/best"]) == 0 and capsys.readouterr().out.strip() == f"{run}/best/README.md"
    # a run without best/ yet: one line
    (tmp_path / "run_info.json").write_text("{}")
    assert main(["evaluate", "--model", str(tmp_path), "--data", "x.json", "--out", str(tmp_path / "o")]) == 2
    assert "training run without a best model yet" in capsys.readouterr().err


# --- Every number flag of every command, hostile values: exit 2, one line naming the flag, nothing written -------
# (train's settings have their own property test in test_train.py, with a real run beside them)

HOSTILE = {int: ["-1", "0", "x", "1.5", "", "1e400", str(10**30)], float: ["nan", "inf", "-inf", "x", "", "-1", "1e400"]}
# values that mean something for that flag: 0 is "any free port", a stride of 0 no overlap; null-odds thresholds are any real
VALID = {("serve", "--port"): {"0"}, ("data show", "--index"): {"0"}, ("data synth", "--seed"): {"0"}, ("data check", "--doc-stride"): {"0"},
         ("score", "--na-prob-thresh"): {"-1"}}


def _snapshot(*roots) -> dict:
    """Every file and folder under `roots`, with each file's size and modification time (any write changes it)."""
    import os

    out = {}
    for root in roots:
        for d, dirs, files in os.walk(root):
            out[d] = "dir"
            for f in files:
                p = os.path.join(d, f)
                st = os.stat(p)
                out[p] = (st.st_size, st.st_mtime_ns)
    return out


@pytest.fixture(scope="module")
def scene(trained, tmp_path_factory):
    """A trained run, its data and a rows file, and each command's valid arguments (but for the flag under test).
    serve gets a host that cannot resolve: a value wrongly accepted ends at the bind, in a line not naming the flag."""
    import json

    run, data = trained
    d = tmp_path_factory.mktemp("scene")
    rows = d / "rows.jsonl"
    rows.write_text(json.dumps({"question": "What is the city of Grace?", "context": "The city of Grace is Vienna."}) + "\n")
    dev = json.loads((data / "dev.json").read_text())
    ids = [q["id"] for a in dev["data"] for p in a["paragraphs"] for q in p["qas"]]
    preds = d / "preds.json"
    preds.write_text(json.dumps({i: "" for i in ids}))
    best, tok = str(run / "best"), str(run / "best")
    base = {
        "ask": ["ask", "--model", best, "--question", "What is the city of Grace?", "--context", "The city of Grace is Vienna."],
        "evaluate": ["evaluate", "--model", best, "--data", str(data / "dev.json"), "--out", str(d / "out" / "eval")],
        "calibrate": ["calibrate", "--model", best, "--data", str(data / "dev.json")],
        "check-precision": ["check-precision", "--model", best, "--data", str(data / "dev.json")],
        "predict": ["predict", "--model", best, "--input", str(rows), "--output", str(d / "out" / "p.jsonl")],
        "serve": ["serve", "--model", best, "--host", "no-such-host.invalid"],
        "export": ["export", "--model", best, "--onnx", "--out", str(d / "out" / "onnx")],
        "score": ["score", "--data", str(data / "dev.json"), "--predictions", str(preds)],
        "data show": ["data", "show", str(data / "dev.json")],
        "data check": ["data", "check", str(data / "dev.json"), "--tokenizer", tok],
        "data synth": ["data", "synth", "--out", str(d / "out" / "synth")],
    }
    return base, (run, data, d)


def _number_flags():
    out = []
    for path, parser in _parsers(build_parser()):
        cmd = " ".join(path[1:])
        if cmd == "train":
            continue
        for a in parser._actions:
            if a.option_strings and a.type in (int, float):
                out += [(cmd, a.option_strings[0], v) for v in HOSTILE[a.type] if v not in VALID.get((cmd, a.option_strings[0]), ())]
    return out


def test_every_number_flag_of_every_command_is_covered(scene):
    base, _ = scene
    assert {cmd for cmd, _, _ in _number_flags()} == set(base)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("cmd, flag, value", _number_flags(), ids=lambda x: str(x)[:12])
def test_a_hostile_number_is_one_line_naming_it_and_nothing_is_written(scene, capsys, cmd, flag, value):
    base, roots = scene
    before = _snapshot(*roots)
    try:
        rc = main([*base[cmd], flag, value])
    except SystemExit as e:  # argparse's own refusals (not a number) exit from parse_args
        rc = e.code
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and err[0].startswith("error: ") and flag in err[0], err
    assert _snapshot(*roots) == before


@pytest.mark.parametrize("cmd, flag", [("evaluate", "--out"), ("predict", "--output"), ("export", "--out"), ("data synth", "--out")])
@pytest.mark.parametrize("target", ["data file", "model", "run"])
def test_an_output_may_not_be_an_input_a_model_or_a_run(scene, capsys, cmd, flag, target):
    base, (run, data, d) = scene
    value = {"data file": str(data / "dev.json"), "model": str(run / "best"), "run": str(run)}[target]
    if cmd == "predict" and target != "data file":  # a JSON Lines file of the model or run: appending would corrupt it
        value += "/metrics.jsonl" if target == "run" else "/out.jsonl"
    args = list(base[cmd])
    args[args.index(flag) + 1] = value
    before = _snapshot(run, data, d)
    rc = main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith("error: "), err
    assert _snapshot(run, data, d) == before


@pytest.mark.parametrize("cmd, flag", [("ask", "--model"), ("evaluate", "--model"), ("evaluate", "--data"), ("predict", "--model"), ("predict", "--input"),
                                       ("serve", "--model"), ("export", "--model"), ("score", "--data"), ("score", "--predictions"),
                                       ("data check", "--tokenizer")])
@pytest.mark.parametrize("missing", ["a missing folder", "an empty folder"])
def test_an_input_that_is_missing_or_empty_is_one_line_naming_it(scene, capsys, cmd, flag, missing):
    base, (run, data, d) = scene
    value = d / ("no-such-folder" if missing == "a missing folder" else "empty")
    value.mkdir(exist_ok=True) if missing == "an empty folder" else None
    args = list(base[cmd])
    args[args.index(flag) + 1] = str(value)
    before = _snapshot(run, data, d)
    try:
        rc = main(args)
    except SystemExit as e:
        rc = e.code
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith("error: ") and str(value) in err[0], err
    assert _snapshot(run, data, d) == before
