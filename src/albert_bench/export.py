"""ONNX export (the ONNX Runtime backend that answers with it is `onnx_backend.py`).

`albert-bench export --model DIR --onnx [--int8 --data DEV] --out OUT` writes OUT/model.onnx next to the
tokenizer, config.json and qa_config.json, so OUT is a model directory that `ask`, `evaluate` and `serve` take with
`--backend onnx`. `--int8` quantizes the weights of every matrix multiplication to int8 (dynamic quantization:
activations are quantized per batch at run time), which is where a CPU spends its time. `export` runs the new
model on probe questions against PyTorch and records the largest logit difference in onnx_info.json; an fp32
export that differs by more than 0.01 is refused. int8 differs by design, so with `--data` the export proves what
it kept: the PyTorch model and the int8 export answer the same questions, both EM/F1 and their difference go into
onnx_info.json (`accuracy`), and an F1 drop above `--max-f1-drop` refuses the export (nothing is written).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass

from . import settings
from .errors import BenchError, all_problems
from .files import check_output, hold, replace_dir
from .onnx_backend import ONNX_FILE, ONNX_INFO, OnnxModel, accuracy_line, need_onnx
from .settings import setting

_KEEP = ("config.json", "qa_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
         "spiece.model", "vocab.txt", "vocab.json", "merges.txt", "sentencepiece.bpe.model", "added_tokens.json")


# Measured on MiniLM-L6 trained on the SQuAD 2.0 dev split (2,000 held-out questions, F1 at the saved threshold):
# PyTorch 52.15, int8 per-tensor 50.58 (-1.57), per-channel 51.54 (-0.61); leaving the QA head in fp32 changed
# nothing, and the first and last layers too made it worse (50.29). DEVELOPERS.md, int8 accuracy.
INT8_SCALES = ("per-channel", "per-tensor")


@dataclass(frozen=True)
class ExportSettings:
    """`export`'s settings, defined once: its flags are generated from these fields (`settings.add_flags`)."""

    int8: bool = setting(False, "quantize the weights of the matrix multiplications to int8 (dynamic quantization)")
    opset: int = setting(18, "ONNX opset", lo=18, hi=10_000)
    data: str | None = setting(None, "with --int8: a SQuAD 2.0 file whose questions both models answer; their EM/F1 go into onnx_info.json "
                                     "and a drop beyond --max-f1-drop refuses the export", flag="--data")
    max_f1_drop: float = setting(1.0, "with --int8 --data: the largest F1 drop (points) the int8 model may show against the PyTorch model", lo=0.0, hi=100.0)
    int8_scales: str = setting("per-channel", "with --int8: one int8 scale per output column of each weight ('per-channel'), or one per weight "
                                              "('per-tensor', where one large weight flattens the rest of its matrix)", choices=INT8_SCALES)

    def __post_init__(self):
        settings.check(self)


def _scores(qa, sq) -> dict:
    """EM/F1 of one answerer on a data set, at the model's saved threshold (what a user of it gets)."""
    from .metric import squad_v2_evaluate

    dec = qa.predict(sq.examples)
    m = squad_v2_evaluate(sq.data, dec.best_text, dec.null_odds, na_prob_thresh=qa.qa.null_threshold)
    return {k: m[k] for k in ("exact", "f1", "HasAns_f1", "NoAns_f1") if k in m}


def accuracy_kept(model_dir: str, onnx_dir: str, data_file: str, max_f1_drop: float, log=print) -> dict:
    """The PyTorch model and its int8 export on the same questions: both scores and the F1 drop; a drop above
    `max_f1_drop` is one line naming both figures."""
    from .data import load_data
    from .qa import QuestionAnswerer

    sq = load_data(data_file, None, flag="--data", need_questions=True)
    log(f"export: checking the int8 model against PyTorch on the {len(sq.examples):,} questions of {data_file}")
    ref = _scores(QuestionAnswerer.from_pretrained(model_dir, backend="torch", precision="fp32"), sq)
    got = _scores(QuestionAnswerer.from_pretrained(onnx_dir, backend="onnx"), sq)
    drop = ref["f1"] - got["f1"]
    if drop > max_f1_drop:
        raise BenchError(f"export: the int8 model scores F1 {got['f1']:.2f} against PyTorch's {ref['f1']:.2f} on {data_file} "
                         f"(a drop of {drop:.2f}, above --max-f1-drop {max_f1_drop:g}); no int8 model written. Export without --int8, "
                         "or allow a larger drop")
    return {"data": os.path.abspath(data_file), "questions": len(sq.examples), "pytorch_fp32": ref, "int8": got,
            "f1_drop": drop, "max_f1_drop": max_f1_drop}


def export_onnx(model_dir: str, out_dir: str, int8: bool = False, opset: int = ExportSettings.opset, log=print,
                data: str | None = None, max_f1_drop: float = ExportSettings.max_f1_drop, int8_scales: str = ExportSettings.int8_scales) -> dict:
    """Export a saved QA model to ONNX (optionally int8, checked on `data`), as a complete model directory."""
    import torch

    from .model import check_model_source, load_model, uses_token_type_ids

    def source() -> None:
        if not os.path.isdir(model_dir):
            raise BenchError(f"{model_dir}: no such model directory; pass the `best/` folder of a training run or another saved QA model")
        check_model_source(model_dir)

    def target() -> None:
        src, dst = os.path.realpath(model_dir), os.path.realpath(out_dir)
        if src == dst or src.startswith(dst.rstrip(os.sep) + os.sep):
            raise BenchError(f"--out {out_dir} holds the model directory {model_dir}; pass a new directory for the ONNX model")
        if os.path.lexists(out_dir) and not (os.path.isdir(out_dir) and not os.path.islink(out_dir)
                                             and (not os.listdir(out_dir) or os.path.exists(os.path.join(out_dir, ONNX_INFO)))):
            # Only an empty directory or an earlier export is replaced: --out must never wipe a user's files.
            raise BenchError(f"--out {out_dir} exists and is not an earlier ONNX export (no {ONNX_INFO}); pass a new directory")
        check_output(out_dir, "--out")

    def version() -> None:
        import onnx

        top = onnx.defs.onnx_opset_version()
        if isinstance(opset, bool) or not isinstance(opset, int) or not 18 <= opset <= top:
            raise BenchError(f"--opset {opset!r}: pass 18 to {top} (torch's exporter writes opset 18 or later; this onnx reads up to {top})")

    def check_data() -> None:
        if data is not None:
            from .data import load_data

            if not int8:
                raise BenchError("--data checks an int8 export's accuracy; pass it with --int8")
            load_data(data, None, flag="--data", need_questions=True)

    all_problems(need_onnx, source, target, version, check_data, lambda: ExportSettings(int8, opset, data, max_f1_drop, int8_scales))
    if int8 and data is None:
        warnings.warn("--int8 without --data: the int8 model's accuracy is not checked (pass --data DEV.json to measure it "
                      "against PyTorch and refuse a drop above --max-f1-drop)", stacklevel=2)
    hold(out_dir, "export", "--out")  # one writer per output
    model, tokenizer = load_model(model_dir)
    model.eval()
    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if uses_token_type_ids(tokenizer) else [])
    probe = tokenizer(["Who wrote it?", "When did the war end and why?"], ["Ann wrote it in 1990.", "It ended in 1945 after a long fight."],
                      padding=True, return_token_type_ids=True, return_tensors="pt")
    args = tuple(probe[n] for n in names)

    class Wrapped(torch.nn.Module):  # positional inputs, tuple output: what the exporter wants
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            extra = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
            out = self.m(input_ids=input_ids, attention_mask=attention_mask, **extra)
            return out.start_logits, out.end_logits

    parent = os.path.dirname(os.path.abspath(out_dir)) or "."
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix=".tmp-export-")
    try:
        fp32_path = os.path.join(tmp, "model.fp32.onnx" if int8 else ONNX_FILE)
        log(f"export: tracing {model_dir} to ONNX (opset {opset})")
        batch, seq = torch.export.Dim("batch", min=1, max=4096), torch.export.Dim("sequence", min=2, max=4096)
        import logging

        logging.getLogger("torch.onnx").setLevel(logging.ERROR)  # e.g. "torchvision is not installed"
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's notes on axis names and deprecations are not for users
            torch.onnx.export(
                Wrapped(model), args, fp32_path, input_names=names, output_names=["start_logits", "end_logits"],
                dynamic_shapes={n: {0: batch, 1: seq} for n in names}, opset_version=opset, dynamo=True,
                external_data=False, verbose=False,
            )
        if int8:
            from onnxruntime.quantization import QuantType, quantize_dynamic
            from onnxruntime.quantization.shape_inference import quant_pre_process

            log(f"export: quantizing matrix multiplications to int8 (dynamic, {int8_scales} scales)")
            pre = os.path.join(tmp, "model.pre.onnx")
            quant_pre_process(fp32_path, pre, skip_symbolic_shape=True)
            quantize_dynamic(pre, os.path.join(tmp, ONNX_FILE), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm"],
                             per_channel=int8_scales == "per-channel")
        for f in _KEEP:
            if os.path.exists(os.path.join(model_dir, f)):
                shutil.copy2(os.path.join(model_dir, f), tmp)
        tokenizer.backend_tokenizer.no_padding()  # the probe call switched padding on; the saved file must not keep it
        tokenizer.save_pretrained(tmp)
        # Check against PyTorch on the probe before anyone relies on it.
        runner = OnnxModel(os.path.join(tmp, ONNX_FILE), names)
        with torch.inference_mode():
            ref = model(**{n: probe[n] for n in names})
        got = runner(**{n: probe[n] for n in names})  # numpy
        mask = probe["attention_mask"].bool()
        diff = float(max((ref.start_logits - torch.from_numpy(got.start_logits))[mask].abs().max(),
                         (ref.end_logits - torch.from_numpy(got.end_logits))[mask].abs().max()))
        info = {"backend": "onnx", "weights": "int8" if int8 else "fp32", "opset": opset, "source": os.path.abspath(model_dir),
                "int8_scales": int8_scales if int8 else None,
                "inputs": names, "max_abs_logit_diff_vs_pytorch": diff}
        if not int8 and diff > 1e-2:
            raise BenchError(f"export: the ONNX model's logits differ from PyTorch's by {diff:.3g} on a probe; not writing {out_dir}")
        for f in ("model.fp32.onnx", "model.pre.onnx"):
            if os.path.exists(os.path.join(tmp, f)):
                os.unlink(os.path.join(tmp, f))
        if int8:
            with open(os.path.join(tmp, ONNX_INFO), "w") as fh:  # what loading the folder as a model reads
                json.dump(info, fh)
            info["accuracy"] = accuracy_kept(model_dir, tmp, data, max_f1_drop, log) if data is not None else None
        with open(os.path.join(tmp, ONNX_INFO), "w") as fh:
            json.dump(info, fh, indent=2)
        replace_dir(tmp, out_dir)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    log(f"export: wrote {os.path.join(out_dir, ONNX_FILE)} ({info['weights']}; max |logit difference| vs PyTorch on a probe {diff:.2g})")
    if info.get("accuracy"):
        log(f"export: {accuracy_line(info)}")
    return info
