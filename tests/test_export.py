"""ONNX export, the ONNX Runtime backend and PyTorch's bf16 precision, on the tiny ALBERT trained on synthetic
data (`trained` fixture)."""

import json
import re

import pytest

from albert_bench.cli import main
from conftest import outlier_model


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    run, _ = trained
    d = tmp_path_factory.mktemp("onnx")
    assert main(["export", "--model", str(run / "best"), "--onnx", "--out", str(d / "fp32")]) == 0
    assert main(["export", "--model", str(run / "best"), "--onnx", "--int8", "--data", str(trained[1] / "dev.json"), "--out", str(d / "int8")]) == 0
    return d


def _evaluate(model, data, out, backend, precision="fp32"):
    assert main(["evaluate", "--model", str(model), "--data", str(data), "--out", str(out), "--backend", backend, "--precision", precision]) == 0
    return (json.load(open(out / f)) for f in ("predictions.json", "null_odds.json", "metrics.json"))


def test_export_writes_a_complete_model_directory(exported, trained):
    for kind in ("fp32", "int8"):
        d = exported / kind
        assert (d / "model.onnx").exists() and (d / "tokenizer.json").exists() and (d / "qa_config.json").exists()
        info = json.load(open(d / "onnx_info.json"))
        assert info["weights"] == kind
    assert json.load(open(exported / "fp32" / "onnx_info.json"))["max_abs_logit_diff_vs_pytorch"] < 1e-3
    assert json.load(open(trained[0] / "best" / "qa_config.json")) == json.load(open(exported / "int8" / "qa_config.json"))


def test_onnx_fp32_answers_like_pytorch_and_int8_nearly(exported, trained, tmp_path):
    run, d = trained
    p_ref, o_ref, m_ref = _evaluate(run / "best", d / "dev.json", tmp_path / "torch", "torch")
    p32, o32, m32 = _evaluate(exported / "fp32", d / "dev.json", tmp_path / "fp32", "onnx")
    p8, _, m8 = _evaluate(exported / "int8", d / "dev.json", tmp_path / "int8", "onnx")
    thr = m_ref["null_threshold"]
    # fp32 ONNX: the same answers, except a question whose null odds sit within float noise of the threshold
    assert all(p32[k] == p_ref[k] for k in p_ref if abs(o_ref[k] - thr) > 1e-3)
    assert max(abs(o32[k] - o_ref[k]) for k in o_ref) < 1e-3
    same8 = sum(p8[k] == p_ref[k] for k in p_ref) / len(p_ref)
    assert same8 >= 0.95 and abs(m8["f1"] - m_ref["f1"]) <= 3.0 and m8["exact"] >= 90.0
    # metrics.json says what answered: an int8 export answers in int8 (as /healthz says), not the fp32 asked for
    assert [m["evaluated"]["precision"] for m in (m_ref, m32, m8)] == ["fp32", "fp32", "int8"]
    # the export measured the same figures on the same questions and kept them
    acc = json.load(open(exported / "int8" / "onnx_info.json"))["accuracy"]
    assert acc["questions"] == m_ref["total"] == 400 and acc["data"] == str(d / "dev.json")
    for key in ("exact", "f1", "HasAns_f1", "NoAns_f1"):
        assert acc["pytorch_fp32"][key] == m_ref[key] and acc["int8"][key] == m8[key]
    assert acc["f1_drop"] == m_ref["f1"] - m8["f1"] and acc["max_f1_drop"] == 1.0


def test_an_int8_export_that_loses_accuracy_is_refused_naming_both_figures(trained, tmp_path, capsys):
    run, d = trained
    bad = outlier_model(run / "best", tmp_path / "outlier")
    out = tmp_path / "int8"
    assert main(["export", "--model", str(bad), "--onnx", "--int8", "--data", str(d / "dev.json"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    m = re.fullmatch(r"error: export: the int8 model scores F1 ([\d.]+) against PyTorch's ([\d.]+) on .*dev\.json \(a drop of ([\d.]+), "
                     r"above --max-f1-drop 1\); no int8 model written\. .*", err)
    assert m, err
    int8_f1, fp32_f1, drop = map(float, m.groups())
    assert fp32_f1 >= 95.0 and int8_f1 < fp32_f1 - 10 and abs(drop - (fp32_f1 - int8_f1)) <= 0.0151  # each figure rounded to 0.01
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-export")]
    # allowed a larger drop, the same export is written and says what it lost, in ask and in serve's /healthz
    assert main(["export", "--model", str(bad), "--onnx", "--int8", "--data", str(d / "dev.json"), "--out", str(out), "--max-f1-drop", "50"]) == 0
    acc = json.load(open(out / "onnx_info.json"))["accuracy"]
    assert round(acc["int8"]["f1"], 2) == int8_f1 and round(acc["pytorch_fp32"]["f1"], 2) == fp32_f1 and acc["max_f1_drop"] == 50
    capsys.readouterr()
    assert main(["ask", "--model", str(out), "--question", "What is the city of Grace?", "--context", "The city of Grace is Vienna."]) == 0
    assert f"int8 model: F1 {int8_f1:.2f} against PyTorch's {fp32_f1:.2f} on 400 questions" in capsys.readouterr().err
    from fastapi.testclient import TestClient

    from albert_bench.qa import QuestionAnswerer
    from albert_bench.serve import create_app

    with TestClient(create_app(QuestionAnswerer.from_pretrained(str(out)), allowed_hosts=["testserver"])) as c:
        assert c.get("/healthz").json()["int8_accuracy"] == acc


def test_int8_without_data_says_its_accuracy_is_unchecked_and_data_needs_int8(trained, tmp_path, capsys):
    run, d = trained
    assert main(["export", "--model", str(run / "best"), "--onnx", "--int8", "--out", str(tmp_path / "int8")]) == 0
    assert "--int8 without --data: the int8 model's accuracy is not checked" in capsys.readouterr().err
    assert json.load(open(tmp_path / "int8" / "onnx_info.json"))["accuracy"] is None
    assert main(["ask", "--model", str(tmp_path / "int8"), "--question", "Who?", "--context", "Ann wrote it."]) == 0
    assert "int8 model: its accuracy was not checked at export" in capsys.readouterr().err
    assert main(["export", "--model", str(run / "best"), "--onnx", "--data", str(d / "dev.json"), "--out", str(tmp_path / "fp32")]) == 2
    assert "--data checks an int8 export's accuracy; pass it with --int8" in capsys.readouterr().err
    assert main(["export", "--model", str(run / "best"), "--onnx", "--int8", "--data", str(tmp_path / "none.json"), "--max-f1-drop", "-1",
                 "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "none.json" in err and "--max-f1-drop" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "fp32").exists() and not (tmp_path / "x").exists()


def test_ask_and_serve_with_onnx_backend(exported, capsys):
    from fastapi.testclient import TestClient

    from albert_bench.qa import QuestionAnswerer
    from albert_bench.serve import create_app

    context = "The city of Orvana is Blue. The city of Lintar is Green."
    assert main(["ask", "--model", str(exported / "int8"), "--backend", "onnx", "--question", "What is the city of Lintar?",
                 "--context", context, "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["no_answer"] or context[res["start"]:res["end"]] == res["answer"]
    qa = QuestionAnswerer.from_pretrained(str(exported / "int8"), backend="onnx")
    with TestClient(create_app(qa, allowed_hosts=["testserver"])) as client:
        health = client.get("/healthz").json()
        assert health["backend"] == "onnx" and health["precision"] == "int8"  # what the export holds, not "fp32"
        r = client.post("/v1/answer", json={"question": "What is the city of Orvana?", "context": context}).json()
        assert r["no_answer"] or context[r["start"]:r["end"]] == r["answer"]


def test_backend_and_export_errors(trained, exported, tmp_path, capsys):
    best = str(trained[0] / "best")
    assert main(["ask", "--model", best, "--backend", "onnx", "--question", "q?", "--context", "c."]) == 2
    assert "albert-bench export" in capsys.readouterr().err
    assert main(["export", "--model", best, "--out", str(tmp_path / "x")]) == 2  # no --onnx
    assert main(["export", "--model", best, "--onnx", "--out", best]) == 2
    assert main(["export", "--model", str(tmp_path / "nope"), "--onnx", "--out", str(tmp_path / "y")]) == 2
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in (exported / "fp32").iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    (broken / "model.onnx").write_bytes(b"not a model")
    capsys.readouterr()
    assert main(["evaluate", "--model", str(broken), "--data", str(trained[1] / "dev.json"), "--out", str(tmp_path / "e"), "--backend", "onnx"]) == 2
    err = capsys.readouterr().err
    assert "model.onnx" in err and "Traceback" not in err


def test_export_never_replaces_a_directory_that_is_not_an_export(trained, tmp_path):
    best = str(trained[0] / "best")
    keep = tmp_path / "mine"
    keep.mkdir()
    (keep / "notes.txt").write_text("precious")
    assert main(["export", "--model", best, "--onnx", "--out", str(keep)]) == 2
    assert (keep / "notes.txt").read_text() == "precious"
    assert main(["export", "--model", best, "--onnx", "--out", str(trained[0])]) == 2  # the run holding the model
    assert (trained[0] / "best" / "model.safetensors").exists()


def test_bf16_precision_answers_nearly_like_fp32(trained, exported, tmp_path, capsys):
    from fastapi.testclient import TestClient

    from albert_bench.qa import QuestionAnswerer
    from albert_bench.serve import create_app

    run, d = trained
    p_ref, o_ref, m_ref = _evaluate(run / "best", d / "dev.json", tmp_path / "fp32", "torch")
    p16, o16, m16 = _evaluate(run / "best", d / "dev.json", tmp_path / "bf16", "torch", "bf16")
    assert max(abs(o16[k] - o_ref[k]) for k in o_ref) > 0  # bf16 really ran: its logits round differently
    same = sum(p16[k] == p_ref[k] for k in p_ref) / len(p_ref)
    assert same >= 0.95 and abs(m16["f1"] - m_ref["f1"]) <= 3.0
    qa = QuestionAnswerer.from_pretrained(str(run / "best"), precision="bf16")
    with TestClient(create_app(qa, allowed_hosts=["testserver"])) as client:
        assert client.get("/healthz").json()["precision"] == "bf16"
    capsys.readouterr()
    assert main(["ask", "--model", str(exported / "int8"), "--precision", "bf16", "--question", "q?", "--context", "c."]) == 2
    err = capsys.readouterr().err
    assert "--precision bf16 is for --backend torch" in err and "Traceback" not in err


def test_an_export_is_recognised_by_its_files(trained, exported, capsys):
    from albert_bench.qa import QuestionAnswerer

    context = "The city of Orvana is Blue. The city of Lintar is Green."
    assert main(["ask", "--model", str(exported / "int8"), "--question", "What is the city of Lintar?", "--context", context, "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["no_answer"] or context[res["start"]:res["end"]] == res["answer"]
    qa = QuestionAnswerer.from_pretrained(str(exported / "int8"))
    assert qa.backend == "onnx" and qa.precision == "int8"
    assert QuestionAnswerer.from_pretrained(str(trained[0] / "best")).backend == "torch"
    assert main(["ask", "--model", str(exported / "int8"), "--backend", "torch", "--question", "q?", "--context", "c."]) == 2
    err = capsys.readouterr().err
    assert "holds an ONNX export" in err and err.count("\n") == 1 and "Traceback" not in err
    assert main(["evaluate", "--model", str(trained[0] / "best"), "--backend", "onnx", "--data", str(trained[1] / "dev.json"), "--out", "/tmp/x-never"]) == 2
    assert "holds a PyTorch model, no model.onnx" in capsys.readouterr().err


def test_cpu_batch_size_follows_the_measured_table(trained, exported):
    """benchmarks/bench_batch.py: a small model answers fastest 16 windows at a time on CPU, a base-size one 4
    (PyTorch) or 1 (ONNX Runtime)."""
    from albert_bench.qa import QuestionAnswerer, default_batch_size

    assert QuestionAnswerer.from_pretrained(str(trained[0] / "best")).batch_size == 16  # hidden 128
    assert QuestionAnswerer.from_pretrained(str(exported / "fp32"), backend="onnx").batch_size == 16
    assert (default_batch_size("cpu", "torch", 768), default_batch_size("cpu", "onnx", 768)) == (4, 1)
    assert default_batch_size("cpu", "torch", None) == 4  # size unknown: the safe choice for a big model


def test_int8_scales_are_one_per_output_column_unless_per_tensor_is_asked(exported, trained, tmp_path, capsys):
    """Read back from the ONNX graph with the onnx library: per-channel exports hold a vector of weight scales
    (one per output column), per-tensor ones a single scale per weight; onnx_info.json says which."""
    import onnx
    from onnx import numpy_helper

    def weight_scales(d):
        g = onnx.load(str(d / "model.onnx")).graph
        return [numpy_helper.to_array(t).size for t in g.initializer if t.name.endswith("_scale")]

    run, _ = trained
    per_channel = weight_scales(exported / "int8")
    assert per_channel and all(n > 1 for n in per_channel), per_channel
    assert json.load(open(exported / "int8" / "onnx_info.json"))["int8_scales"] == "per-channel"
    out = tmp_path / "per-tensor"
    assert main(["export", "--model", str(run / "best"), "--onnx", "--int8", "--int8-scales", "per-tensor", "--out", str(out)]) == 0
    assert set(weight_scales(out)) == {1} and len(weight_scales(out)) == len(per_channel)
    assert json.load(open(out / "onnx_info.json"))["int8_scales"] == "per-tensor"
    with pytest.raises(SystemExit) as e:
        main(["export", "--model", str(run / "best"), "--onnx", "--int8", "--int8-scales", "per-row", "--out", str(tmp_path / "x")])
    assert e.value.code == 2
    assert "--int8-scales" in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_answering_with_an_export_imports_neither_torch_nor_transformers(exported, trained, tmp_path):
    """`ask`, `evaluate` and `predict` on an export, each from a fresh process, never import torch (or transformers,
    which imports it): about 2.5 s of a cold command on 2 cores (issue 26). The process itself reports what it imported."""
    import subprocess
    import sys

    context = "The city of Orvana is Blue. The city of Lintar is Green."
    (tmp_path / "rows.jsonl").write_text(json.dumps({"id": "a", "question": "What is the city of Lintar?", "context": context}) + "\n")
    code = ("import runpy, sys\n"
            "sys.argv = ['albert-bench'] + sys.argv[1:]\n"
            "try:\n    runpy.run_module('albert_bench', run_name='__main__')\n"
            "except SystemExit as e:\n    assert not e.code, e.code\n"
            "print('imported:', sorted(m for m in ('torch', 'transformers', 'accelerate') if m in sys.modules), file=sys.stderr)\n")
    model = str(exported / "int8")
    for argv in (["ask", "--model", model, "--question", "What is the city of Lintar?", "--context", context, "--json"],
                 ["evaluate", "--model", model, "--data", str(trained[1] / "dev.json"), "--out", str(tmp_path / "eval")],
                 ["predict", "--model", model, "--input", str(tmp_path / "rows.jsonl"), "--output", str(tmp_path / "out.jsonl")]):
        r = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
        assert r.stderr.strip().splitlines()[-1] == "imported: []", argv[0]
    answer = json.loads((tmp_path / "out.jsonl").read_text())
    assert answer["no_answer"] or context[answer["start"]:answer["end"]] == answer["answer"]
    assert json.load(open(tmp_path / "eval" / "metrics.json"))["total"] == 400


@pytest.mark.parametrize("which", ["albert-base-v2", "minilm"])
def test_an_exports_own_tokenizer_cuts_the_windows_transformers_cuts(which, albert_tok, dev, minilm_dir, tmp_path):
    """`ExportTokenizer` (the Rust tokenizer of tokenizer.json, without transformers) against transformers' tokenizer of
    the same directory: every window, offset and label the same, on real dev questions cut into many short windows;
    and what it does not define itself comes from transformers' tokenizer, loaded on first use."""
    import numpy as np

    from albert_bench.features import FeatureConfig, build_features
    from albert_bench.model import load_tokenizer
    from albert_bench.onnx_backend import ExportTokenizer

    full = albert_tok if which == "albert-base-v2" else load_tokenizer(minilm_dir)
    full.save_pretrained(tmp_path)
    light = ExportTokenizer(str(tmp_path), full.model_input_names)
    assert "_transformers" not in light.__dict__
    assert (light.cls_token_id, light.pad_token_id, light.padding_side) == (full.cls_token_id, full.pad_token_id, full.padding_side)
    assert light.num_special_tokens_to_add(pair=True) == full.num_special_tokens_to_add(pair=True)
    examples = dev.examples[:300]
    cfg = FeatureConfig(96, 32, 24)  # short windows and questions: many windows per passage, some questions cut
    a, b = build_features(examples, light, cfg), build_features(examples, full, cfg)
    assert len(a) == len(b) > len(examples)
    for field in ("input_ids", "token_type_ids", "offsets"):
        assert all(np.array_equal(x, y) for x, y in zip(getattr(a, field), getattr(b, field))), field
    for field in ("example_index", "start_positions", "end_positions", "cls_index"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field
    assert "_transformers" not in light.__dict__  # windows need nothing of transformers
    assert light.model_max_length == full.model_max_length and "_transformers" in light.__dict__


def test_a_damaged_export_tokenizer_is_one_line(exported, tmp_path, capsys):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(exported / "fp32", bad)
    (bad / "tokenizer.json").write_text('{"version": "1.0", "model": ')
    assert main(["ask", "--model", str(bad), "--question", "What is the city of Lintar?", "--context", "The city of Lintar is Green."]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{bad / 'tokenizer.json'}: not a tokenizer file" in err[0] and "re-run `albert-bench export`" in err[0]


def test_the_old_pipeline_api_answers_from_an_export_as_from_its_model(exported, trained):
    """The old pipeline's word alignment asks the tokenizer for more than windows: the export's tokenizer hands it
    to transformers' tokenizer of the same files, and the answers are the PyTorch model's."""
    from albert_bench import pipeline

    context = "The city of Orvana is Blue. The city of Lintar is Green."
    questions = [{"question": "What is the city of Lintar?", "context": context}, {"question": "What is the city of Orvana?", "context": context}]
    got = [pipeline("question-answering", model=str(m), device="cpu")(questions, top_k=2) for m in (trained[0] / "best", exported / "fp32")]
    flat = [[a for answers in g for a in answers] for g in got]
    assert [(a["answer"], a["start"], a["end"]) for a in flat[0]] == [(a["answer"], a["start"], a["end"]) for a in flat[1]]
    assert max(abs(a["score"] - b["score"]) for a, b in zip(*flat)) < 1e-3
