"""The ONNX Runtime backend for answering on CPU: a directory written by `albert-bench export` (model.onnx beside
the tokenizer, config.json, qa_config.json and onnx_info.json) loaded as a model `QuestionAnswerer` runs like a
PyTorch one. `qa.py` owns it; the exporter only writes what this reads."""

from __future__ import annotations

import contextlib
import os
from types import SimpleNamespace

import numpy as np

from .errors import BenchError
from .files import read_json

ONNX_FILE = "model.onnx"
ONNX_INFO = "onnx_info.json"


def need_onnx():
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        raise BenchError("the ONNX backend needs onnxruntime: pip install onnxruntime") from None


class OnnxModel:
    """An ONNX Runtime session that answers like a transformers QA model: model(**batch).start_logits."""

    def __init__(self, path: str, input_names: list[str] | None = None, threads: int | None = None):
        need_onnx()
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        so.intra_op_num_threads = threads or cores
        so.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own exception types
            raise BenchError(f"{path}: not a loadable ONNX model ({str(e).splitlines()[0][:200]}); re-run `albert-bench export`") from None
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.path = path
        self.weights = "fp32"  # or "int8": what the export holds (onnx_info.json), reported as the precision
        self.info: dict = {}  # onnx_info.json as export wrote it (with an int8 export's accuracy check)
        self.training = False

    def __call__(self, **batch):
        import torch

        feed = {n: np.ascontiguousarray(batch[n].cpu().numpy() if hasattr(batch[n], "cpu") else batch[n], dtype=np.int64) for n in self.input_names}
        s, e = self.session.run(["start_logits", "end_logits"], feed)
        return SimpleNamespace(start_logits=torch.from_numpy(s), end_logits=torch.from_numpy(e), loss=None)

    # The few nn.Module manners that infer() and QuestionAnswerer rely on.
    def eval(self):
        return self

    def train(self, mode: bool = True):
        return self

    def to(self, device):
        if str(device) != "cpu":
            raise BenchError("the ONNX backend runs on CPU; use --backend torch for a GPU")
        return self


def load_onnx(model_dir: str):
    """(OnnxModel, tokenizer) from a directory written by `export_onnx`."""
    from .model import load_tokenizer

    path = os.path.join(model_dir, ONNX_FILE)
    if not os.path.exists(path):
        raise BenchError(f"{model_dir}: no {ONNX_FILE}; create one with `albert-bench export --model {model_dir} --onnx --out DIR` and pass --model DIR")
    model = OnnxModel(path)
    info_path = os.path.join(model_dir, ONNX_INFO)
    if os.path.exists(info_path):
        info = read_json(info_path, "the onnx_info.json that `albert-bench export` wrote; re-run the export")
        model.weights = info.get("weights", "fp32") if isinstance(info, dict) else "fp32"
        model.info = info if isinstance(info, dict) else {}
    if os.path.exists(os.path.join(model_dir, "config.json")):  # the architecture's size picks the CPU batch size
        from transformers import AutoConfig

        with contextlib.suppress(Exception):
            model.config = AutoConfig.from_pretrained(model_dir)
    return model, load_tokenizer(model_dir)


def accuracy_line(info: dict) -> str:
    """What an int8 export's accuracy check found, in one line (export, `ask` and `serve` say it); "" for fp32."""
    if info.get("weights") != "int8":
        return ""
    acc = info.get("accuracy")
    try:
        return (f"int8 model: F1 {acc['int8']['f1']:.2f} against PyTorch's {acc['pytorch_fp32']['f1']:.2f} on {acc['questions']:,} "
                f"questions of {acc['data']} (a drop of {acc['f1_drop']:.2f}; checked at export)")
    except (TypeError, KeyError, ValueError):
        return "int8 model: its accuracy was not checked at export (export with --int8 --data DEV.json to measure it)"

