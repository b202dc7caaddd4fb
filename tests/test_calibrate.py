"""calibrate: p_correct, the chance that a returned answer is an exact match, fitted on half a dev set's paragraphs
and measured on the other half; carried by qa_config.json to every way of answering."""

import json
import math
import random

import pytest

from albert_bench.calibrate import Calibration, ece, fit_platt
from albert_bench.cli import main
from albert_bench.errors import BenchError
from conftest import outlier_model


def test_ece_is_the_weighted_gap_between_confidence_and_accuracy():
    assert ece([0.9] * 10, [True] * 9 + [False]) == pytest.approx(0.0)
    assert ece([0.9] * 10, [True] * 5 + [False] * 5) == pytest.approx(0.4)
    # two bins, half the questions each: |1.0 - 0.95| and |0.0 - 0.15|, weighted 1/2
    assert ece([0.95, 0.95, 0.15, 0.15], [True, True, False, False]) == pytest.approx((0.05 + 0.15) / 2)
    assert ece([1.0], [True]) == 0.0  # a confidence of exactly 1 is in the last bin
    assert math.isnan(ece([], []))


def test_platt_fit_recovers_the_logistic_that_made_the_outcomes():
    rng = random.Random(0)
    w1, w2, b = 1.5, -0.7, -2.0
    x = [(rng.uniform(0, 5), rng.uniform(-3, 3)) for _ in range(6000)]
    right = [rng.random() < 1 / (1 + math.exp(-(w1 * m + w2 * q + b))) for m, q in x]
    f1, f2, fb = fit_platt(x, right)
    assert f1 == pytest.approx(w1, abs=0.2) and f2 == pytest.approx(w2, abs=0.15) and fb == pytest.approx(b, abs=0.3)
    assert fit_platt([], []) == (0.0, 0.0, 0.0)


def test_p_correct_uses_the_answered_or_the_no_answer_fit_by_the_side_of_the_threshold():
    cal = Calibration((1.0, 0.0, 0.0), (-1.0, 0.0, 0.0), 10, {})
    assert cal.p_correct(-3.0, 0.0, 0.5) == pytest.approx(1 / (1 + math.exp(-3)))  # answered, 3 below the threshold
    assert cal.p_correct(2.0, 0.0, 0.5) == pytest.approx(1 / (1 + math.exp(2)))  # no answer, 2 above it
    assert cal.p_correct(0.0, 0.0, 0.5) == pytest.approx(0.5)  # at the threshold a span is returned: the answered fit
    with_prob = Calibration((0.0, 1.0, 0.0), (0.0, 1.0, 0.0), 10, {})
    assert with_prob.p_correct(-1.0, 0.0, 0.8) == pytest.approx(0.8)  # weight 1 on the probability's log-odds: itself


@pytest.mark.parametrize("bad", [{"answered": [1.0, 2], "no_answer": [1, 2, 3], "fitted_on": 3, "held_out": {}},
                                 {"answered": [1, 2, "x"], "no_answer": [1, 2, 3], "fitted_on": 3, "held_out": {}},
                                 {"answered": [1, 2, float("nan")], "no_answer": [1, 2, 3], "fitted_on": 3, "held_out": {}},
                                 {"no_answer": [1, 2, 3]}, [1, 2], "platt"])
def test_a_calibration_that_is_not_what_calibrate_writes_is_one_line(tmp_path, bad):
    with pytest.raises(BenchError, match="'calibration' is not what `albert-bench calibrate` writes"):
        Calibration.from_dict(bad, "qa_config.json")
    from albert_bench.model import QAConfig

    (tmp_path / "qa_config.json").write_text(json.dumps({"null_threshold": 0.0, "calibration": bad}))
    with pytest.raises(BenchError, match="qa_config.json: ('calibration' is not|NaN is not a JSON number)"):
        QAConfig.load(str(tmp_path))


def test_train_calibrates_best_and_every_answer_carries_p_correct(trained, capsys):
    from fastapi.testclient import TestClient

    from albert_bench.qa import QuestionAnswerer
    from albert_bench.serve import create_app

    run, _ = trained
    cal = json.load(open(run / "best" / "qa_config.json"))["calibration"]
    held = cal["held_out"]
    assert held["questions"] + cal["fitted_on"] == 400 and held["questions"] > 150
    assert held["ece_after"] <= held["ece_before"] and abs(held["mean_p_correct"] - held["exact_rate"]) < 0.03
    qa = QuestionAnswerer.from_pretrained(str(run / "best"))
    res = qa.answer("What is the city of Grace?", "The city of Grace is Vienna. The job of Oscar is pilot.")
    assert 0.0 <= res["p_correct"] <= 1.0
    prob = res["alternatives"][0]["probability"]  # the answer returned is the best span here
    assert not res["no_answer"] and res["p_correct"] == Calibration.from_dict(cal, "x").p_correct(res["null_odds"], res["threshold"], prob)
    with TestClient(create_app(qa, allowed_hosts=["testserver"])) as c:
        r = c.post("/v1/answer", json={"question": "What is the city of Grace?", "context": "The city of Grace is Vienna."})
        assert r.status_code == 200 and 0.0 <= r.json()["p_correct"] <= 1.0
    assert main(["ask", "--model", str(run / "best"), "--question", "What is the city of Grace?", "--context", "The city of Grace is Vienna."]) == 0
    assert "; p_correct " in capsys.readouterr().out.splitlines()[0]


def test_an_uncalibrated_model_says_p_correct_null_not_an_invented_number(trained, tmp_path, capsys):
    import shutil

    run, _ = trained
    plain = tmp_path / "plain"
    shutil.copytree(run / "best", plain)
    cfg = json.load(open(plain / "qa_config.json"))
    del cfg["calibration"]
    (plain / "qa_config.json").write_text(json.dumps(cfg))
    assert main(["ask", "--model", str(plain), "--question", "What is the city of Grace?", "--context", "The city of Grace is Vienna.", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["p_correct"] is None
    assert main(["ask", "--model", str(plain), "--question", "What is the city of Grace?", "--context", "The city of Grace is Vienna."]) == 0
    assert "p_correct" not in capsys.readouterr().out


def test_calibrate_a_model_that_is_often_wrong_on_held_out_questions(trained, tmp_path, capsys):
    """The outlier model's int8 export answers about a third of the questions wrongly: there the n-best
    probability is far from the truth, and p_correct, measured on questions it was not fitted on, is close to it."""
    run, data = trained
    bad = outlier_model(run / "best", tmp_path / "outlier")
    assert main(["export", "--model", str(bad), "--onnx", "--int8", "--out", str(tmp_path / "int8")]) == 0
    from albert_bench.synthetic import make_synthetic

    _, dev = make_synthetic(0, 2000, seed=5)  # new questions of the same kind: 1,000 held out, not 200
    (tmp_path / "dev.json").write_text(json.dumps(dev))
    capsys.readouterr()
    assert main(["calibrate", "--model", str(tmp_path / "int8"), "--data", str(tmp_path / "dev.json")]) == 0
    out, err = capsys.readouterr()
    held = json.loads(out)
    assert 0.2 < 1 - held["exact_rate"] < 0.8  # a model that is often wrong
    assert held["ece_after"] < held["ece_before"] and abs(held["mean_p_correct"] - held["exact_rate"]) < 0.05
    assert err.strip().splitlines()[-2].startswith(f"calibration: on {held['questions']:,} held-out questions, ECE ")
    assert err.strip().splitlines()[-1].startswith("  (it replaces the calibration fitted on 200 questions: held-out ECE ")  # best/'s, copied by the export
    stored = json.load(open(tmp_path / "int8" / "qa_config.json"))["calibration"]
    assert {k: v for k, v in stored["held_out"].items() if not k.startswith("reliability")} == held
    assert sum(b["questions"] for b in stored["held_out"]["reliability_after"]) == held["questions"]


def test_calibrate_refuses_a_dev_set_it_cannot_split_in_one_line(trained, tmp_path, capsys):
    import shutil

    run, data = trained
    model = tmp_path / "m"
    shutil.copytree(run / "best", model)
    before = (model / "qa_config.json").read_text()
    dev = json.load(open(data / "dev.json"))
    one = {"version": "v2.0", "data": [{"title": "t", "paragraphs": dev["data"][0]["paragraphs"][:1]}]}
    (tmp_path / "one.json").write_text(json.dumps(one))
    assert main(["calibrate", "--model", str(model), "--data", str(tmp_path / "one.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and "needs questions on at least two paragraphs" in err[-1]
    assert (model / "qa_config.json").read_text() == before  # nothing written
    # two paragraphs of one question each: a fit on 1 question once replaced a good one (p_correct a flat 0.5)
    paragraphs = [{**p, "qas": p["qas"][:1]} for p in dev["data"][0]["paragraphs"][:2]]
    (tmp_path / "two.json").write_text(json.dumps({"version": "v2.0", "data": [{"title": "t", "paragraphs": paragraphs}]}))
    assert main(["calibrate", "--model", str(model), "--data", str(tmp_path / "two.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and "fitted on 1 question(s) and measured on 1; with fewer than 30 on either half" in err[-1]
    assert (model / "qa_config.json").read_text() == before
