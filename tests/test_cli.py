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
    for needle in ("missing.txt: no such file", "--question is empty", "no-model: no such model directory", "--top-k must be between"):
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
    import time

    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    t = time.time()
    r = subprocess.run([sys.executable, "-m", "albert_bench", "train", "--model", "no-org/no-model", "--train-file", str(tmp_path / "t.json"),
                        "--dev-file", str(tmp_path / "d.json"), "--run-dir", str(tmp_path / "run")], capture_output=True, text=True, env=env)
    assert r.returncode == 2 and time.time() - t < 30
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("error: 3 problems:") and "t.json: no such file" in last and "d.json: no such file" in last and "no-org/no-model" in last
    assert not (tmp_path / "run").exists()


def test_a_hub_name_without_network_fails_fast_in_one_line(tmp_path):
    """No HF_HUB_OFFLINE, and a hub that refuses connections (a closed port on this machine): one line within
    5 s, not the hub client's retries."""
    import os
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: connections are refused
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    env.update(HF_ENDPOINT=f"http://127.0.0.1:{port}", HF_HOME=str(tmp_path / "hf"))
    good = tmp_path / "d.json"
    good.write_text('{"version": "v2.0", "data": [{"title": "T", "paragraphs": [{"context": "A cat.", "qas": [{"id": "1", "question": "What?", "answers": [], "is_impossible": true}]}]}]}')
    t = time.time()
    r = subprocess.run([sys.executable, "-m", "albert_bench", "train", "--model", "albert-base-v2", "--train-file", str(good), "--dev-file", str(good),
                        "--run-dir", str(tmp_path / "run")], capture_output=True, text=True, env=env, timeout=120)
    took = time.time() - t
    err = r.stderr.strip().splitlines()
    assert r.returncode == 2 and err[-1].startswith("error: albert-base-v2: cannot reach the Hugging Face hub") and "local model directory" in err[-1]
    assert "Retrying" not in r.stderr and len(err) == 1, err
    assert took < 5 + 4, took  # 5 s for the check, the rest is Python starting up and importing torch
    r = subprocess.run([sys.executable, "-m", "albert_bench", "train", "--model", "albert-base-v2", "--train-file", str(good), "--dev-file", str(good)],
                       capture_output=True, text=True, env={**env, "HF_HUB_OFFLINE": "1"}, timeout=120)
    assert r.returncode == 2 and "HF_HUB_OFFLINE is set" in r.stderr.strip().splitlines()[-1]


def test_serve_and_export_report_every_problem_at_once(tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.write_text("x")
    assert main(["serve", "--model", str(tmp_path / "no-model"), "--max-queue", "0", "--allowed-hosts", "a b", "--max-batch", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: 4 problems:") and "--max-batch must be" in err and "--max-queue must be" in err and "a b is not a host name" in err and "no-model" in err
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
