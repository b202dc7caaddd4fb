"""The ONNX Runtime backend for answering on CPU: a directory written by `albert-bench export` (model.onnx beside
the tokenizer, config.json, qa_config.json and onnx_info.json) loaded as a model `QuestionAnswerer` runs like a
PyTorch one. `qa.py` owns it; the exporter only writes what this reads.

Answering with an export imports neither torch nor transformers (whose import pulls in torch): about 2.5 s of a
cold `ask` on 2 cores (issue 26). The model takes and gives numpy arrays, the tokenizer is the export's Rust
tokenizer (`ExportTokenizer`) and the architecture's settings are config.json's values."""

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
        """Start and end logits as float32 numpy arrays, from numpy arrays or CPU tensors."""
        feed = {n: np.ascontiguousarray(batch[n].cpu().numpy() if hasattr(batch[n], "cpu") else batch[n], dtype=np.int64) for n in self.input_names}
        s, e = self.session.run(["start_logits", "end_logits"], feed)
        return SimpleNamespace(start_logits=s, end_logits=e, loss=None)

    # The few nn.Module manners that infer() and QuestionAnswerer rely on.
    def eval(self):
        return self

    def train(self, mode: bool = True):
        return self

    def to(self, device):
        if str(device) != "cpu":
            raise BenchError("the ONNX backend runs on CPU; use --backend torch for a GPU")
        return self


class ExportTokenizer:
    """An export's tokenizer without transformers: the Rust tokenizer of its tokenizer.json and the few attributes
    that windowing reads (`features.build_features`), from tokenizer_config.json and the ONNX graph's inputs. The
    windows are those of transformers' tokenizer byte for byte (tests/test_export.py). Anything else asked of it
    (the old pipeline's word alignment, for one) loads transformers' tokenizer on first use and answers from it."""

    def __init__(self, model_dir: str, input_names: list[str]):
        from tokenizers import Tokenizer

        self._dir = model_dir
        tok_file = os.path.join(model_dir, "tokenizer.json")
        try:
            self.backend_tokenizer = Tokenizer.from_file(tok_file)
        except Exception as e:  # tokenizers raises its own exception type
            raise BenchError(f"{tok_file}: not a tokenizer file ({str(e).splitlines()[0][:160]}); re-run `albert-bench export`") from None
        path = os.path.join(model_dir, "tokenizer_config.json")
        cfg = read_json(path, "the tokenizer_config.json that `albert-bench export` wrote; re-run the export") if os.path.exists(path) else {}
        cfg = cfg if isinstance(cfg, dict) else {}
        self.padding_side = cfg.get("padding_side", "right")
        self.model_input_names = list(input_names)  # what the graph takes: token_type_ids or not
        for name in ("cls", "pad", "unk"):
            token = cfg.get(f"{name}_token")
            token = token.get("content") if isinstance(token, dict) else token  # older files hold an AddedToken's fields
            setattr(self, f"{name}_token_id", self.backend_tokenizer.token_to_id(token) if isinstance(token, str) else None)

    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        post = self.backend_tokenizer.post_processor
        return post.num_special_tokens_to_add(pair) if post is not None else 0

    def _full(self):
        if "_transformers" not in self.__dict__:
            from .model import load_tokenizer

            self.__dict__["_transformers"] = load_tokenizer(self._dir)
        return self.__dict__["_transformers"]

    def __getattr__(self, name: str):  # only for what this class does not define
        if name.startswith("__") or name in ("_dir", "_transformers"):
            raise AttributeError(name)
        return getattr(self._full(), name)

    def __call__(self, *args, **kwargs):
        return self._full()(*args, **kwargs)


def load_onnx(model_dir: str):
    """(OnnxModel, tokenizer) from a directory written by `export_onnx`: an `ExportTokenizer` where the export holds
    tokenizer.json (every export does), else transformers' tokenizer."""
    path = os.path.join(model_dir, ONNX_FILE)
    if not os.path.exists(path):
        raise BenchError(f"{model_dir}: no {ONNX_FILE}; create one with `albert-bench export --model {model_dir} --onnx --out DIR` and pass --model DIR")
    model = OnnxModel(path)
    info_path = os.path.join(model_dir, ONNX_INFO)
    if os.path.exists(info_path):
        info = read_json(info_path, "the onnx_info.json that `albert-bench export` wrote; re-run the export")
        model.weights = info.get("weights", "fp32") if isinstance(info, dict) else "fp32"
        model.info = info if isinstance(info, dict) else {}
    config = os.path.join(model_dir, "config.json")
    if os.path.exists(config):  # the architecture's size picks the CPU batch size; its positions bound the old pipeline's windows
        with contextlib.suppress(Exception):
            raw = read_json(config, "the model's config.json")
            model.config = SimpleNamespace(**{k: v for k, v in raw.items() if isinstance(k, str) and k.isidentifier()})
    if os.path.exists(os.path.join(model_dir, "tokenizer.json")):
        return model, ExportTokenizer(model_dir, model.input_names)
    from .model import load_tokenizer

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

