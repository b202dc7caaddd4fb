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
