"""Proof that it learns, and answering through the CLI and the Python API, on the trained tiny model."""

import json

import pytest

from albert_bench.cli import main
from albert_bench.qa import QuestionAnswerer


def test_tiny_albert_learns_synthetic_task(trained):
    run, _ = trained
    rows = [json.loads(line) for line in open(run / "metrics.jsonl")]
    assert rows[-1]["exact"] >= 95.0, rows[-1]
    assert rows[-1]["HasAns_exact"] >= 90.0 and rows[-1]["NoAns_exact"] >= 90.0
    assert rows[0]["eval_loss"] > rows[-1]["eval_loss"]


def test_evaluate_writes_outputs_and_scores_like_score(trained, tmp_path, capsys):
    run, d = trained
    out = tmp_path / "eval"
    assert main(["evaluate", "--model", str(run / "best"), "--data", str(d / "dev.json"), "--out", str(out)]) == 0
    m = json.load(open(out / "metrics.json"))
    assert m["exact"] >= 95.0 and m["total"] == 400
    auto = QuestionAnswerer.from_pretrained(str(run / "best"))  # what --precision auto (the default) picks on this machine
    assert m["evaluated"] == {"model": str(run / "best"), "data": str(d / "dev.json"), "backend": "torch", "precision": auto.precision,
                              "precision_reason": auto.precision_reason, "processes": 1}
    preds, odds, nbest = (json.load(open(out / f)) for f in ("predictions.json", "null_odds.json", "nbest.json"))
    assert set(preds) == set(odds) == set(nbest) and len(preds) == 400
    thr = json.load(open(run / "best" / "qa_config.json"))["null_threshold"]
    assert all((preds[k] == "") == (odds[k] > thr) for k in preds)
    # the written predictions, scored by `albert-bench score`, give the same EM/F1
    capsys.readouterr()
    assert main(["score", "--data", str(d / "dev.json"), "--predictions", str(out / "predictions.json")]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["exact"] == pytest.approx(m["exact"]) and s["f1"] == pytest.approx(m["f1"])


def test_an_evaluation_stopped_half_way_leaves_no_mix_of_two(trained, tmp_path):
    """A real fault: the second evaluation may write files of a few kB (RLIMIT_FSIZE, as a full disk would), enough
    for its predictions but not its nbest.json; --out must keep the first evaluation's set, not pair it with the second's."""
    import os
    import resource
    import signal
    import subprocess
    import sys

    run, d = trained
    out = tmp_path / "eval"
    assert main(["evaluate", "--model", str(run / "best"), "--data", str(d / "dev.json"), "--out", str(out)]) == 0
    size = {f.name: f.stat().st_size for f in out.iterdir()}
    first = {f.name: f.read_bytes() for f in out.iterdir()}
    data = json.loads((d / "dev.json").read_text())
    paragraphs = [p for a in data["data"] for p in a["paragraphs"]]
    half = {**data, "data": [{"title": "half", "paragraphs": paragraphs[: len(paragraphs) // 2]}]}
    (tmp_path / "half.json").write_text(json.dumps(half))
    limit = max(size["predictions.json"], size["null_odds.json"]) + 1000
    assert size["nbest.json"] // 3 > limit  # half the questions' nbest.json cannot be written

    def cap():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() then fails with EFBIG instead of killing the process
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    r = subprocess.run([sys.executable, "-m", "albert_bench", "evaluate", "--model", str(run / "best"), "--data", str(tmp_path / "half.json"),
                        "--out", str(out)], capture_output=True, text=True, preexec_fn=cap,
                       env={**os.environ, "HF_HUB_OFFLINE": "1", "ALBERT_BENCH_CACHE": str(tmp_path / "cache")})
    assert r.returncode != 0 and "Traceback" not in r.stderr and r.stderr.strip().splitlines()[-1].startswith("error: "), r.stderr[-2000:]
    assert "could not write the file" in r.stderr and "nbest.json" in r.stderr
    assert {f.name: f.read_bytes() for f in out.iterdir()} == first  # the first evaluation's set, whole, and no leftovers


@pytest.fixture(scope="module")
def qa(trained):
    return QuestionAnswerer.from_pretrained(str(trained[0] / "best"))


PASSAGE = "The city of Grace is Vienna. The job of Oscar is pilot."


def test_answer_offsets_index_the_context(qa):
    r = qa.answer("What is the job of Oscar?", PASSAGE, top_k=3)
    assert not r["no_answer"] and r["answer"] == "pilot"
    assert PASSAGE[r["start"]:r["end"]] == "pilot"
    assert len(r["alternatives"]) == 3 and r["alternatives"][0]["text"] == "pilot"
    assert all(PASSAGE[a["start"]:a["end"]] == a["text"] for a in r["alternatives"])


def test_no_answer_is_explicit(qa):
    r = qa.answer("What is the pet of Grace?", PASSAGE)
    assert r["no_answer"] and r["answer"] == "" and r["start"] is None and r["null_odds"] > r["threshold"]


def test_long_context_uses_windows(qa):
    filler = " ".join(["Anna went for a long walk in the park."] * 60)  # far past 128 tokens: many windows
    ctx = filler + " The favourite colour of Omar is purple."
    r = qa.answer("What is the favourite colour of Omar?", ctx)
    assert r["answer"] == "purple" and ctx[r["start"]:r["end"]] == "purple" and r["start"] > 1000


def test_batch_equals_one_by_one(qa):
    pairs = [("What is the city of Grace?", PASSAGE), ("What is the job of Oscar?", PASSAGE), ("What is the pet of Oscar?", PASSAGE)]
    batch = qa.answer_batch(pairs)
    for (q, c), b in zip(pairs, batch):
        one = qa.answer(q, c)
        assert (one["answer"], one["start"], one["no_answer"]) == (b["answer"], b["start"], b["no_answer"])
        assert one["score"] == pytest.approx(b["score"], abs=1e-4)
    assert [b["answer"] for b in batch] == ["Vienna", "pilot", ""]


def test_ask_cli(trained, tmp_path, capsys):
    best = str(trained[0] / "best")
    assert main(["ask", "--model", best, "--question", "What is the city of Grace?", "--context", PASSAGE, "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["answer"] == "Vienna" and PASSAGE[r["start"]:r["end"]] == "Vienna"
    f = tmp_path / "p.txt"
    f.write_text(PASSAGE)
    assert main(["ask", "--model", best, "--question", "What is the pet of Grace?", "--context-file", str(f)]) == 0
    assert capsys.readouterr().out.startswith("no answer")
    assert main(["ask", "--model", best, "--question", "  ", "--context", PASSAGE]) == 2
    assert main(["ask", "--model", best, "--question", "Who?", "--context", ""]) == 2
    assert main(["ask", "--model", str(tmp_path), "--question", "Who?", "--context", PASSAGE]) == 2
    assert main(["ask", "--model", best, "--question", "Who?", "--context-file", str(tmp_path / "none.txt")]) == 2
    err = capsys.readouterr().err
    assert err.count("error: ") == 4 and "Traceback" not in err
    # a device that never ends is read no further than the passage limit (it once grew to gigabytes)
    assert main(["ask", "--model", best, "--question", "Who?", "--context-file", "/dev/zero"]) == 2
    assert "/dev/zero holds more than the 1,048,576 bytes allowed" in capsys.readouterr().err


def test_evaluate_never_replaces_files_it_did_not_write(trained, tmp_path, capsys):
    """An --out folder holding the user's own predictions.json: one line, the file untouched; a folder of an
    earlier evaluation is replaced as before (its mark names the four files)."""
    run, d = trained
    out = tmp_path / "mine"
    out.mkdir()
    (out / "predictions.json").write_text('{"mine": 1}')
    args = ["evaluate", "--model", str(run / "best"), "--data", str(d / "dev.json"), "--out", str(out)]
    assert main(args) == 2
    assert f"--out {out}: already holds predictions.json, which albert-bench did not write there" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["predictions.json"] and (out / "predictions.json").read_text() == '{"mine": 1}'
    (out / "predictions.json").unlink()
    assert main(args) == 0 and main(args) == 0  # its own outputs, replaced
    # nor into a model's folder (push would upload the evaluation with the model)
    assert main(["evaluate", "--model", str(run / "best"), "--data", str(d / "dev.json"), "--out", str(run / "best" / "eval")]) == 2
    assert "which holds a model" in capsys.readouterr().err and not (run / "best" / "eval").exists()


def test_precision_checks(monkeypatch, capsys):
    import torch

    from albert_bench import qa as qa_mod
    from albert_bench.errors import BenchError

    cpu = torch.device("cpu")
    assert qa_mod.check_precision("fp32", "onnx", cpu) == "fp32"
    with pytest.raises(BenchError, match="expected one of auto, fp32, bf16"):
        qa_mod.check_precision("fp16", "torch", cpu)
    with pytest.raises(BenchError, match="--int8"):
        qa_mod.check_precision("bf16", "onnx")
    import warnings

    monkeypatch.setattr(qa_mod, "cpu_has_bf16", lambda: False)
    with pytest.warns(UserWarning, match="emulated"):
        assert qa_mod.check_precision("bf16", "torch", cpu) == "bf16"
    monkeypatch.setattr(qa_mod, "cpu_has_bf16", lambda: True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        qa_mod.check_precision("bf16", "torch", cpu)


def test_ask_and_evaluate_use_the_saved_threshold_both_ways(trained, tmp_path, capsys):
    """qa_config.json's null_threshold decides: raised above a question's null odds it answers, lowered below
    them it says "no answer", through the real `ask` and `evaluate`."""
    import json
    import shutil

    from albert_bench.cli import main

    model = tmp_path / "best"
    shutil.copytree(trained[0] / "best", model)
    passage = "The city of Grace is Vienna. The job of Oscar is pilot."

    def ask(question, threshold):
        cfg = json.loads((model / "qa_config.json").read_text())
        (model / "qa_config.json").write_text(json.dumps({**cfg, "null_threshold": threshold}))
        assert main(["ask", "--model", str(model), "--question", question, "--context", passage, "--json"]) == 0
        return json.loads(capsys.readouterr().out)

    saved = json.loads((model / "qa_config.json").read_text())["null_threshold"]
    answered, unanswered = ask("What is the city of Grace?", saved), ask("What is the pet of Grace?", saved)
    assert not answered["no_answer"] and unanswered["no_answer"]
    assert ask("What is the city of Grace?", answered["null_odds"] - 0.01)["no_answer"]  # flipped to no answer
    flipped = ask("What is the pet of Grace?", unanswered["null_odds"] + 0.01)  # flipped to an answer
    assert not flipped["no_answer"] and flipped["answer"]
    # evaluate: every prediction follows the threshold
    data = trained[1] / "dev.json"
    for thr, expect_empty in ((1e6, False), (-1e6, True)):
        cfg = json.loads((model / "qa_config.json").read_text())
        (model / "qa_config.json").write_text(json.dumps({**cfg, "null_threshold": thr}))
        out = tmp_path / f"eval{thr}"
        assert main(["evaluate", "--model", str(model), "--data", str(data), "--out", str(out)]) == 0
        preds = json.loads((out / "predictions.json").read_text())
        assert all((p == "") == expect_empty for p in preds.values())
    capsys.readouterr()



# ---------------------------------------------------------------- --precision auto (issue 26)

def _check(passed=True):
    return {"questions": 400, "same_answers": 1.0 if passed else 0.9, "f1_fp32": 99.0, "f1_bf16": 99.0 if passed else 97.0, "device": "cpu",
            "passed": passed}


def test_auto_picks_bf16_only_with_native_bf16_and_a_passed_check(monkeypatch):
    import torch

    from albert_bench import qa as qa_mod

    cpu = torch.device("cpu")
    monkeypatch.setattr(qa_mod, "cpu_has_bf16", lambda: True)
    assert qa_mod.pick_precision("auto", "torch", cpu, _check()) == ("bf16", qa_mod.pick_precision("auto", "torch", cpu, _check())[1])
    assert qa_mod.pick_precision("auto", "torch", cpu, _check())[1].startswith("auto: native bf16 here")
    assert qa_mod.pick_precision("auto", "torch", cpu, _check(False))[0] == "fp32"
    assert "failed" in qa_mod.pick_precision("auto", "torch", cpu, _check(False))[1]
    assert qa_mod.pick_precision("auto", "torch", cpu, None)[0] == "fp32"
    assert "check-precision" in qa_mod.pick_precision("auto", "torch", cpu, None)[1]
    assert qa_mod.pick_precision("fp32", "torch", cpu, _check()) == ("fp32", "asked for")
    assert qa_mod.pick_precision("auto", "onnx", cpu, _check())[0] == "fp32"
    monkeypatch.setattr(qa_mod, "cpu_has_bf16", lambda: False)
    assert qa_mod.pick_precision("auto", "torch", cpu, _check()) == ("fp32", "auto: this CPU has no native bf16")
    assert qa_mod.pick_precision("bf16", "torch", cpu, None) == ("bf16", "asked for")


def test_check_precision_records_and_auto_answers_with_it(trained, tmp_path, capsys):
    """The real check on the trained model: `check-precision` stores it, `evaluate` (default precision auto)
    answers in what it allows on this CPU and says why, a failed check or no check means fp32, and a damaged one
    is one line."""
    import shutil

    import torch

    from albert_bench.qa import native_bf16

    run, d = trained
    best = tmp_path / "best"
    shutil.copytree(run / "best", best)
    cfg_path = best / "qa_config.json"
    native = native_bf16(torch.device("cpu"))
    # train ran the check on hardware with native bf16: best/ came with it
    assert ("bf16_check" in json.loads((run / "best" / "qa_config.json").read_text())
            and json.loads((run / "best" / "qa_config.json").read_text())["bf16_check"] is not None) == native
    cfg = json.loads(cfg_path.read_text())
    cfg.pop("bf16_check", None)
    cfg_path.write_text(json.dumps(cfg))
    capsys.readouterr()
    assert main(["check-precision", "--model", str(best), "--data", str(d / "dev.json")]) == 0
    out, err = capsys.readouterr()
    check = json.loads(out)
    assert check == json.loads(cfg_path.read_text())["bf16_check"] and check["questions"] == 400 and check["passed"]
    assert check["same_answers"] >= 0.99 and abs(check["f1_fp32"] - check["f1_bf16"]) <= 0.5 and "bf16 check: passed" in err

    def evaluated():
        out = tmp_path / "eval"
        assert main(["evaluate", "--model", str(best), "--data", str(d / "dev.json"), "--out", str(out)]) == 0
        return json.load(open(out / "metrics.json"))["evaluated"]

    e = evaluated()
    assert e["precision"] == ("bf16" if native else "fp32") and e["precision_reason"].startswith("auto: ")
    cfg = json.loads(cfg_path.read_text())
    cfg["bf16_check"]["passed"] = False
    cfg_path.write_text(json.dumps(cfg))
    e = evaluated()
    assert e["precision"] == "fp32" and e["precision_reason"].startswith("auto: " + ("bf16 failed the model's check" if native else "this CPU"))
    cfg["bf16_check"] = {"passed": "yes"}
    cfg_path.write_text(json.dumps(cfg))
    capsys.readouterr()
    assert main(["evaluate", "--model", str(best), "--data", str(d / "dev.json"), "--out", str(tmp_path / "e2")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'bf16_check' is not what `albert-bench check-precision` writes" in err and "Traceback" not in err


def test_the_bf16_bar_at_its_edges():
    from albert_bench.qa import bf16_passes

    assert bf16_passes(0.99, 80.0, 79.5) and bf16_passes(1.0, 80.0, 81.0) and bf16_passes(0.995, 50.25, 50.0)
    assert not bf16_passes(0.9899, 80.0, 80.0) and not bf16_passes(1.0, 80.0, 79.49)


def test_the_answerer_holds_bf16_weights_only_in_bf16_and_fuses_gelu_always(trained):
    import torch
    from transformers.activations import GELUTanh, NewGELUActivation

    for precision, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        qa = QuestionAnswerer.from_pretrained(str(trained[0] / "best"), precision=precision)
        assert {m.weight.dtype for m in qa.model.modules() if isinstance(m, torch.nn.Linear)} == {dtype}
        kinds = {type(m) for m in qa.model.modules()}
        assert GELUTanh in kinds and NewGELUActivation not in kinds
        assert (qa.autocast is None) == (precision == "fp32")


def test_check_precision_refuses_what_it_cannot_check_in_one_line(trained, tmp_path, capsys):
    """An ONNX export (nothing of PyTorch to compare), a malformed dev file, and a second writer of the same
    qa_config.json: one line each, exit 2, the model's settings untouched."""
    from albert_bench.export import export_onnx
    from albert_bench.files import QA_CONFIG, hold, release_all

    run, d = trained
    best = str(run / "best")
    export_onnx(best, str(tmp_path / "onnx"), log=lambda m: None)
    (tmp_path / "bad.json").write_text('{"data": 5}')
    before = (run / "best" / QA_CONFIG).read_bytes()
    capsys.readouterr()
    assert main(["check-precision", "--model", str(tmp_path / "onnx"), "--data", str(tmp_path / "bad.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "an ONNX export; check-precision compares PyTorch's fp32 and bf16" in err and "bad.json" in err
    hold(str(run / "best" / QA_CONFIG), "calibrate", "--model")  # as a calibrate run writing the same file would
    try:
        import subprocess
        import sys

        res = subprocess.run([sys.executable, "-m", "albert_bench", "check-precision", "--model", best, "--data", str(d / "dev.json")],
                             capture_output=True, text=True, timeout=120)
    finally:
        release_all()
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "is in use by" in res.stderr
    assert (run / "best" / QA_CONFIG).read_bytes() == before
