"""Answering: `QuestionAnswerer` (Python API), `albert-bench ask` and `albert-bench evaluate`.

    qa = QuestionAnswerer.from_pretrained("runs/x/best")
    qa.answer("Where is the treasure?", passage)            # {"answer", "start", "end", "score", "no_answer", ...}
    qa.answer_batch([(q1, c1), (q2, c2)], top_k=3)         # many questions share forward passes

Answers are cut from the passage as given (character offsets index it), windows cover long passages, and the
no-answer threshold comes from the model's `qa_config.json` (tuned on dev by `albert-bench train`).
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from dataclasses import dataclass, replace

from .calibrate import Calibration
from .data import Example, load_data, only_questions
from .decode import TOP_K, DecodeConfig, decode
from .errors import BenchError, all_problems
from .features import build_features, cached_features, count_windows
from .files import QA_CONFIG, blank, check_not_in_model, check_not_input, check_ours, check_output, hold, write_outputs
from . import settings
from .metric import squad_v2_evaluate
from .settings import setting
from .model import QAConfig, check_positions, fuse_gelu, hold_weights_in_bf16, infer, launched_processes, load_model


PRECISIONS = ("auto", "fp32", "bf16")
# What `--precision auto` asks of bf16 before it answers with it, measured on the model's own dev questions
# (`check_bf16`, which `train` runs on best/ and `albert-bench check-precision` on any model): issue 26's bar.
BF16_MIN_SAME_ANSWERS = 0.99
BF16_MAX_F1_DROP = 0.5
BF16_CHECK_QUESTIONS = 2000  # the first N dev questions: the check's cost stays about a minute on 2 CPU cores
BACKENDS = ("auto", "torch", "onnx")


@dataclass(frozen=True)
class AnswerSettings:
    """How a command answers: the settings `ask`, `evaluate`, `predict` and `serve` share, defined once; their
    flags are generated from these fields (`settings.add_flags`) and checked here, for the command line and the
    Python API alike."""

    backend: str = setting("auto", "'auto' ('onnx' for a directory written by `albert-bench export`, else 'torch'), 'torch' (PyTorch; CPU or GPU) "
                                   "or 'onnx' (ONNX Runtime on CPU)", choices=BACKENDS)
    precision: str = setting("auto", "PyTorch precision: 'auto' (bf16 where the CPU or GPU computes it natively and the model passed its bf16 "
                                     f"check: a share of at least {BF16_MIN_SAME_ANSWERS:g} of its dev answers unchanged and F1 within {BF16_MAX_F1_DROP:g}; "
                                     "else fp32), 'fp32', or 'bf16' (about twice as fast on a CPU with AVX512-BF16/AMX and on GPUs; answers can "
                                     "differ slightly, benchmarks/RESULTS.md)", choices=PRECISIONS)
    top_k: int = setting(TOP_K, f"candidate answers listed in `alternatives`, 1 to {DecodeConfig.n_best_size} (default {TOP_K}, as the HTTP API and the page)",
                         lo=1, hi=DecodeConfig.n_best_size)
    batch_size: int | None = setting(None, "windows per forward pass (default, measured fastest: 64 on a GPU; on CPU 16 for a small model "
                                           "(hidden size ≤ 256), else 4, or 1 with --backend onnx)", lo=1, hi=65_536)

    def __post_init__(self):
        settings.check(self)


class QuestionAnswerer:
    def __init__(self, model, tokenizer, qa: QAConfig | None = None, device: str | None = None, batch_size: int | None = None, name: str = "",
                 precision: str = AnswerSettings.precision):
        """`precision` "bf16" (or "auto" choosing it) casts the model's Linear weights to bf16 in place. `device`:
        a torch.device for a PyTorch model; "cpu" for ONNX Runtime, which answers without importing torch."""
        self.backend = "onnx" if not hasattr(model, "parameters") else "torch"
        if self.backend == "onnx":
            self.device = "cpu"
            model.to(device or "cpu")  # ONNX Runtime runs on CPU: one line for any other device
        else:
            import torch

            self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.qa = qa or QAConfig()
        self.name = name
        check_positions(getattr(model, "config", None), self.qa.max_seq_length, f"{os.path.join(name, QA_CONFIG) if name else 'qa_config.json'}: max_seq_length")
        hidden = getattr(getattr(model, "config", None), "hidden_size", None)
        self.batch_size = batch_size or default_batch_size(self.device, self.backend, hidden)
        check_precision(precision, self.backend, self.device)
        self.precision, self.precision_reason = pick_precision(precision, self.backend, self.device, self.qa.bf16_check)
        if self.backend == "onnx":
            self.precision, self.precision_reason = model.weights, "the ONNX export's weights"  # int8 answers in int8, whatever was asked
        else:
            fuse_gelu(self.model)
            if self.precision == "bf16":
                hold_weights_in_bf16(self.model)
        # what turns null odds into p_correct (`albert-bench calibrate`); None: the answers say p_correct null
        self.calibration = Calibration.from_dict(self.qa.calibration, name or "qa_config.json") if self.qa.calibration else None

    @classmethod
    def from_pretrained(cls, model_dir: str, device: str | None = None, batch_size: int | None = None, backend: str = "auto",
                        precision: str = AnswerSettings.precision) -> "QuestionAnswerer":
        """`backend`: "auto" (what the directory holds), "torch" (PyTorch, CPU or GPU) or "onnx" (ONNX Runtime on
        CPU; a directory written by `albert-bench export`).
        `precision`: "auto" (bf16 where the device computes it natively and the model passed its bf16 check, else
        fp32; `precision_reason` says why), "fp32", or "bf16" (about twice as fast on a CPU with AVX512-BF16 or AMX,
        and on GPUs; answers can differ slightly from fp32, see benchmarks/RESULTS.md)."""
        if not os.path.isdir(model_dir):
            raise BenchError(f"{model_dir}: no such model directory; pass the `best/` folder of a training run or another saved QA model")
        backend = resolve_backend(model_dir, backend)
        check_precision(precision, backend)  # before loading anything
        if backend == "onnx":
            from .onnx_backend import load_onnx

            model, tokenizer = load_onnx(model_dir)
            device = "cpu"
        elif backend == "torch":
            model, tokenizer = load_model(model_dir)
        else:
            raise BenchError(f"--backend {backend!r}: expected 'torch' or 'onnx'")
        return cls(model, tokenizer, QAConfig.load(model_dir), device, batch_size, name=model_dir, precision=precision)

    @property
    def bf16_check(self) -> dict | None:
        """The model's bf16 check (qa_config.json), what `--precision auto` read."""
        return self.qa.bf16_check

    @property
    def autocast(self):
        """The context the model runs in: bf16 autocast, or None (fp32; ONNX Runtime)."""
        if self.precision != "bf16":
            return None
        import torch

        return lambda: torch.autocast(self.device.type, dtype=torch.bfloat16)

    @property
    def decode_config(self) -> DecodeConfig:
        return DecodeConfig(self.qa.n_best_size, self.qa.max_answer_length, self.qa.null_threshold)

    def predict(self, examples: list[Example], progress: bool = False, cache: bool = False, processes=None):
        """Decoded answers (see `decode.Decoded`) for SQuAD-style examples (`cache`: reuse on-disk features).
        `processes` (several, see `model.infer`): the windows are shared among them and process 0 decodes; the
        others get None."""
        with processes.main_process_first() if processes is not None else contextlib.nullcontext():
            if cache:  # process 0 builds and caches the features; the others read them
                feats = cached_features(examples, self.tokenizer, self.qa.features, progress=progress, log=lambda m: print(m, file=sys.stderr))
            else:
                feats = build_features(examples, self.tokenizer, self.qa.features, progress=progress)
        starts, ends, _ = infer(self.model, self.tokenizer, feats, self.batch_size, self.device, autocast=self.autocast, progress=progress,
                                processes=processes)
        return decode(examples, feats, starts, ends, self.decode_config) if starts is not None else None

    def count_windows(self, pairs: list[tuple[str, str]]) -> list[int]:
        """The windows each (question, context) pair needs: the model's work for it (the server's unit of cost)."""
        return count_windows(pairs, self.tokenizer, self.qa.features)

    def answer_batch(self, pairs: list[tuple[str, str]], top_k: int = TOP_K) -> list[dict]:
        for i, (q, c) in enumerate(pairs):
            if not isinstance(q, str) or blank(q):
                raise BenchError(f"question {i}: empty; ask a question in words")
            if not isinstance(c, str) or blank(c):
                raise BenchError(f"context {i}: empty; pass the passage that may hold the answer")
        examples = [Example(str(i), q, c, []) for i, (q, c) in enumerate(pairs)]
        dec = self.predict(examples)
        return [self._result(dec, str(i), top_k) for i in range(len(pairs))]

    def answer(self, question: str, context: str, top_k: int = TOP_K) -> dict:
        return self.answer_batch([(question, context)], top_k)[0]

    def answer_passages(self, question: str, contexts: list[str], top_k: int = TOP_K) -> dict:
        """One answer to `question` over several passages (a retriever's top documents), scored alike: see
        `merge_passages`. Each candidate names its passage (`passage`, an index into `contexts`) and offsets into it."""
        if isinstance(contexts, str) or not isinstance(contexts, (list, tuple)) or not contexts:
            raise BenchError("contexts: pass a list of one or more passages")
        per = self.answer_batch([(question, c) for c in contexts], top_k=self.qa.n_best_size)
        return merge_passages(per, self.qa.null_threshold, top_k, self.calibration)

    def _result(self, dec, id: str, top_k: int) -> dict:
        odds = dec.null_odds[id]
        nbest = dec.nbest[id]
        null = next(e for e in nbest if e["start"] is None)
        spans = [e for e in nbest if e["start"] is not None]
        no_answer = dec.predictions[id] == ""
        best = spans[0] if spans else None
        alts = [{"passage": None, "locations": None, **{k: e[k] for k in ("text", "start", "end", "score", "probability")}} for e in spans[: max(top_k, 1)]]
        return {
            "answer": "" if no_answer else best["text"],
            "passage": None,  # set by an answer over several passages (`answer_passages`), as `locations`
            "start": None if no_answer else best["start"],
            "end": None if no_answer else best["end"],
            "score": null["score"] if no_answer else best["score"],
            "no_answer": no_answer,
            "no_answer_score": null["score"],
            "null_odds": odds,  # no-answer score − best span score; "" is answered when this exceeds the threshold
            "threshold": self.qa.null_threshold,
            # the probability that this answer (a span, or "no answer") is an exact match; null for an uncalibrated model
            "p_correct": self.calibration.p_correct(odds, self.qa.null_threshold, null["probability"] if no_answer else best["probability"])
            if self.calibration else None,
            "locations": None,
            "alternatives": alts,
        }



def merge_passages(results: list[dict], threshold: float, top_k: int = TOP_K, calibration: Calibration | None = None) -> dict:
    """One answer to one question over several passages, from each passage's own result (`_result`, asked with
    top_k = n_best_size). Span scores (start + end logits) are comparable across passages as they are across the
    windows of one. Each passage decides "no answer" exactly as it would alone (its best span against its own
    no-answer score and the threshold); the question's answer is the best span of the passages that answer, and
    "no answer" when none does. (Comparing the best span anywhere with the lowest no-answer score of all passages,
    as across the windows of one passage, answers far more unanswerable questions from a distractor:
    benchmarks/RESULTS.md, one question over many passages.) The question's null odds are those of the passage
    answered from, or the lowest of all when none answers, so `no_answer` is `null_odds > threshold` as for one
    passage. The same span text found in several passages is one candidate (its best score) that keeps every
    location. Probabilities are a softmax over the merged candidates and the no-answer score. Each location names
    its passage and its character offsets in it."""
    import math

    if not results:
        raise BenchError("contexts: empty; pass at least one passage")
    merged: dict[str, dict] = {}
    for i, r in enumerate(results):
        for alt in r["alternatives"]:
            where = {"passage": i, "start": alt["start"], "end": alt["end"]}
            seen = merged.get(alt["text"])
            if seen is None:
                merged[alt["text"]] = {"text": alt["text"], "score": alt["score"], **where, "locations": [where]}
            else:
                seen["locations"].append(where)
                if alt["score"] > seen["score"]:  # the best-scoring place is the one the candidate points at
                    seen.update(score=alt["score"], **where)
    # each passage's own decision: (null odds, its best span's score, passage); a passage without spans never answers
    own = [(r["no_answer_score"] - r["alternatives"][0]["score"], r["alternatives"][0]["score"], i)
           for i, r in enumerate(results) if r["alternatives"]]
    answering = [o for o in own if o[0] <= threshold]
    if answering:
        odds, _, i = max(answering, key=lambda o: o[1])
        alt = results[i]["alternatives"][0]
        best = {**merged[alt["text"]], "passage": i, "start": alt["start"], "end": alt["end"], "score": alt["score"]}
    else:
        odds, _, i = min(own) if own else (None, None, 0)
        best = None
    null = results[i]["no_answer_score"]
    spans = sorted(merged.values(), key=lambda c: -c["score"])
    top = max([null] + [c["score"] for c in spans])
    z = math.exp(null - top) + sum(math.exp(c["score"] - top) for c in spans)
    for c in spans:
        c["probability"] = math.exp(c["score"] - top) / z
    p_null = math.exp(null - top) / z
    no_answer = best is None
    p = p_null if no_answer else merged[best["text"]]["probability"]
    keys = ("text", "passage", "start", "end", "score", "probability", "locations")
    return {
        "answer": "" if no_answer else best["text"],
        "passage": None if no_answer else best["passage"],
        "start": None if no_answer else best["start"],
        "end": None if no_answer else best["end"],
        "score": null if no_answer else best["score"],
        "no_answer": no_answer,
        "no_answer_score": null,
        "null_odds": odds,
        "threshold": threshold,
        "p_correct": calibration.p_correct(odds, threshold, p) if calibration and odds is not None else None,
        "locations": [] if no_answer else best["locations"],
        "alternatives": [{k: c[k] for k in keys} for c in spans[: max(top_k, 1)]],
    }


def check_model_dir(model_dir: str, backend: str) -> None:
    """The one check of a model directory to answer with, for every answering command: it exists and holds what
    `backend` needs (one line otherwise). A backend that is not one of BACKENDS is `AnswerSettings`' to report,
    once: only a known one is checked against the directory here."""
    from .onnx_backend import ONNX_FILE
    from .model import has_weights

    if not os.path.isdir(model_dir):
        raise BenchError(f"{model_dir}: no such model directory; pass the `best/` folder of a training run or another saved QA model")
    if not has_weights(model_dir) and not os.path.exists(os.path.join(model_dir, ONNX_FILE)):
        raise BenchError(f"{model_dir}: holds no model (no model.safetensors or pytorch_model.bin, no model.onnx); "
                         "pass the `best/` folder of a training run or another saved QA model")
    if backend in BACKENDS:
        resolve_backend(model_dir, backend)


def resolve_backend(model_dir: str, backend: str = "auto") -> str:
    """The backend for what `model_dir` holds: "onnx" for an export (model.onnx), "torch" for PyTorch weights.
    A backend asked for that the directory cannot serve is one line saying what it holds."""
    from .onnx_backend import ONNX_FILE
    from .model import has_weights

    onnx, torch_weights = os.path.exists(os.path.join(model_dir, ONNX_FILE)), has_weights(model_dir)
    if backend not in BACKENDS:
        raise BenchError(f"--backend {backend!r}: expected one of {', '.join(BACKENDS)}")
    if backend == "auto":
        return "onnx" if onnx and not torch_weights else "torch"
    if backend == "torch" and onnx and not torch_weights:
        raise BenchError(f"--backend torch: {model_dir} holds an ONNX export (model.onnx, no PyTorch weights); drop --backend or pass --backend onnx")
    if backend == "onnx" and not onnx:
        raise BenchError(f"--backend onnx: {model_dir} holds a PyTorch model, no model.onnx; export it with "
                         f"`albert-bench export --model {model_dir} --onnx --int8 --out DIR` and pass that DIR, or drop --backend")
    return backend


SMALL_MODEL_HIDDEN = 256  # at or below this hidden size, per-call overhead dominates answering on CPU


def default_batch_size(device, backend: str, hidden_size: int | None = None) -> int:
    """Windows per forward pass when answering, from `benchmarks/bench_batch.py` (RESULTS.md, 2 cores). On a GPU,
    big batches. On CPU a small model (the quickstart's: hidden 128) answers fastest 16 windows at a time, both
    backends (783 against 636 windows/s at 4 with PyTorch); a base-size model 4 at a time with PyTorch and one at a
    time with ONNX Runtime (1 and 4 within noise there): larger batches spill activations out of the caches and get slower, not faster."""
    if str(device).startswith("cuda"):
        return 64
    if hidden_size is not None and hidden_size <= SMALL_MODEL_HIDDEN:
        return 16
    return 1 if backend == "onnx" else 4


def check_precision(precision: str, backend: str, device=None) -> str:
    """The precision, if this backend (and device, when given) can use it; bf16 on a CPU without native bf16
    only warns."""
    if precision not in PRECISIONS:
        raise BenchError(f"--precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    if precision in ("fp32", "auto"):
        return precision
    if backend != "torch":
        raise BenchError("--precision bf16 is for --backend torch; for a faster ONNX model export it with `albert-bench export --onnx --int8`")
    if device is None:
        return precision
    import torch

    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise BenchError(f"--precision bf16: {torch.cuda.get_device_name(device)} has no bf16 support; use --precision fp32")
    if device.type == "cpu" and not cpu_has_bf16():
        warnings.warn("this CPU has no native bf16 (AVX512-BF16 or AMX): --precision bf16 is emulated and slower than fp32 here", stacklevel=2)
    return precision


def native_bf16(device) -> bool:
    """Whether this torch.device computes bf16 natively (a GPU that supports it; a CPU with AVX512-BF16 or AMX)."""
    import torch

    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and cpu_has_bf16()


def pick_precision(asked: str, backend: str, device, check: dict | None) -> tuple[str, str]:
    """(precision, why): what was asked, or for "auto" bf16 where the device computes it natively and the model's
    bf16 check (qa_config.json's `bf16_check`) passed, else fp32."""
    if asked != "auto":
        return asked, "asked for"
    if backend != "torch":  # an ONNX model answers in its export's precision (the caller's)
        return "fp32", "auto"
    if not native_bf16(device):
        return "fp32", f"auto: this {'GPU' if device.type == 'cuda' else 'CPU'} has no native bf16"
    if not check:
        return "fp32", "auto: the model has no bf16 check; `albert-bench check-precision --model DIR --data DEV.json` makes one"
    if not check.get("passed"):
        return "fp32", f"auto: bf16 failed the model's check ({check_summary(check)})"
    return "bf16", f"auto: native bf16 here, and the model passed its bf16 check ({check_summary(check)})"


def bf16_passes(same_answers: float, f1_fp32: float, f1_bf16: float) -> bool:
    """Issue 26's bar for bf16 answers: at least BF16_MIN_SAME_ANSWERS of them unchanged, F1 at most BF16_MAX_F1_DROP lower."""
    return same_answers >= BF16_MIN_SAME_ANSWERS and f1_fp32 - f1_bf16 <= BF16_MAX_F1_DROP


def check_summary(check: dict) -> str:
    return (f"{check['same_answers']:.1%} of {check['questions']:,} dev answers unchanged, F1 {check['f1_bf16']:.2f} against fp32's "
            f"{check['f1_fp32']:.2f}; needs {BF16_MIN_SAME_ANSWERS:.0%} and a drop of at most {BF16_MAX_F1_DROP:g}")


def check_bf16(model_dir: str, examples: list, data: list, device: str | None = None, batch_size: int | None = None, log=print) -> dict:
    """The model's answers to (the first BF16_CHECK_QUESTIONS of) its dev questions in fp32 and in bf16, both at its
    saved threshold, stored in its qa_config.json as `bf16_check` (what `--precision auto` reads). Returns it."""
    examples = examples[:BF16_CHECK_QUESTIONS]
    ids = {ex.id for ex in examples}
    articles = only_questions(data, ids)
    log(f"checking bf16 against fp32 on {len(examples):,} dev questions (what --precision auto relies on)")
    qa = QuestionAnswerer.from_pretrained(model_dir, device=device, batch_size=batch_size, backend="torch", precision="fp32")
    got = {}
    for precision in ("fp32", "bf16"):
        if precision == "bf16":
            qa = QuestionAnswerer(qa.model, qa.tokenizer, qa.qa, str(qa.device), qa.batch_size, qa.name, precision="bf16")
        dec = qa.predict(examples)
        got[precision] = (dec.predictions, squad_v2_evaluate(articles, dec.best_text, dec.null_odds, na_prob_thresh=qa.qa.null_threshold)["f1"])
    same = sum(got["fp32"][0][i] == got["bf16"][0][i] for i in ids) / max(len(ids), 1)
    check = {"questions": len(ids), "same_answers": same, "f1_fp32": got["fp32"][1], "f1_bf16": got["bf16"][1],
             "device": str(qa.device), "passed": bf16_passes(same, got["fp32"][1], got["bf16"][1])}
    replace(qa.qa, bf16_check=check).save(model_dir)
    log(f"bf16 check: {'passed' if check['passed'] else 'failed'} ({check_summary(check)})")
    return check


def cpu_has_bf16() -> bool:
    """Whether this CPU runs bf16 natively (AVX512-BF16 or AMX), as oneDNN sees it."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a private oneDNN probe: absent in some builds
        return False


EVALUATE_OUTPUTS = ("predictions.json", "null_odds.json", "nbest.json", "metrics.json")


def evaluate_dir(model_dir: str, data_file: str | None, out_dir: str, batch_size: int | None = None, backend: str = "auto", precision: str = "auto",
                 dataset: str | None = None) -> dict:
    """Predict a data file (or a `--dataset` spec) and write predictions.json, null_odds.json, nbest.json and metrics.json."""
    # every input before predicting, every problem at once
    _, _, sq, _, _, _ = all_problems(lambda: check_output(out_dir, "--out"),
                                  lambda: (check_ours(out_dir, "--out", EVALUATE_OUTPUTS),
                                           check_not_in_model(out_dir, "--out", "dir", then="write the evaluation to another folder")),
                                  lambda: load_data(data_file, dataset, flag="--data", need_questions=True),
                                  lambda: check_model_dir(model_dir, backend),
                                  lambda: AnswerSettings(backend, precision, batch_size=batch_size),
                                  lambda: check_not_input(out_dir, "--out", {"--data": data_file, "--model": model_dir}))
    # Under `accelerate launch` every process runs its share of the windows and process 0 decodes, scores and writes.
    processes = launched_processes()
    main = processes is None or processes.is_main_process
    try:
        problem = None
        if main:
            try:
                hold(out_dir, "evaluate", "--out")  # one writer per output
            except BenchError as e:
                problem = str(e)
        if processes is not None:
            from accelerate.utils import broadcast_object_list

            problem = broadcast_object_list([problem])[0]
        if problem:
            raise BenchError(problem)
        device = str(processes.device) if processes is not None else None
        qa = QuestionAnswerer.from_pretrained(model_dir, device=device, batch_size=batch_size, backend=backend, precision=precision)
        dec = qa.predict(sq.examples, progress=main, cache=True, processes=processes)
        metrics = {}
        if main:
            metrics = squad_v2_evaluate(sq.data, dec.best_text, dec.null_odds, na_prob_thresh=qa.qa.null_threshold)
            metrics["null_threshold"] = qa.qa.null_threshold
            # What these figures are of: read back, metrics.json names its model, data and settings.
            metrics["evaluated"] = {"model": os.path.abspath(model_dir), "data": os.path.abspath(data_file) if data_file else dataset,
                                    "backend": qa.backend, "precision": qa.precision,
                                    "precision_reason": qa.precision_reason, "processes": processes.num_processes if processes is not None else 1}
            # One set: an evaluation stopped while writing (a full disk, Ctrl-C) leaves the earlier evaluation's four
            # files as they were, never some of them beside some of this one's.
            write_outputs(out_dir, "--out", dict(zip(EVALUATE_OUTPUTS, (dec.predictions, dec.null_odds, dict(dec.nbest), metrics))))
        if processes is not None:
            processes.wait_for_everyone()
    finally:
        if processes is not None:
            processes.destroy_process_group()  # a process that exits with its group alive aborts ("terminate called ...")
    return metrics


def calibrate_dir(model_dir: str, data_file: str | None, dataset: str | None = None, batch_size: int | None = None, backend: str = "auto",
                  precision: str = "auto", log=print) -> Calibration:
    """Answer a dev set with the model, fit `p_correct` on half of its paragraphs and measure it on the other half
    (`calibrate.from_decoded`), and store the fit in the model's qa_config.json (replaced atomically)."""
    from .calibrate import from_decoded, summary

    _, sq, _ = all_problems(lambda: check_model_dir(model_dir, backend), lambda: load_data(data_file, dataset, flag="--data", need_questions=True),
                            lambda: AnswerSettings(backend, precision, batch_size=batch_size))
    hold(os.path.join(model_dir, QA_CONFIG), "calibrate", "--model")  # one writer of the model's settings
    qa = QuestionAnswerer.from_pretrained(model_dir, batch_size=batch_size, backend=backend, precision=precision)
    dec = qa.predict(sq.examples, progress=True, cache=True)
    cal = from_decoded(sq.examples, sq.data, dec, qa.qa.null_threshold, where=data_file or dataset)
    replace(qa.qa, calibration=cal.to_dict()).save(model_dir)
    log(summary(cal))
    if qa.calibration is not None and (h := qa.calibration.held_out):  # what it replaced, so that a worse fit is seen
        log(f"  (it replaces the calibration fitted on {qa.calibration.fitted_on:,} questions: held-out ECE "
            f"{h.get('ece_after', float('nan')):.3f} on {h.get('questions', 0):,})")
    return cal


def check_precision_dir(model_dir: str, data_file: str | None, dataset: str | None = None, batch_size: int | None = None, log=print) -> dict:
    """`albert-bench check-precision`: `check_bf16` on a dev set, stored in the model's qa_config.json."""

    def pytorch_model() -> None:
        if os.path.isdir(model_dir) and resolve_backend(model_dir) == "onnx":
            raise BenchError(f"--model {model_dir}: an ONNX export; check-precision compares PyTorch's fp32 and bf16, so pass the "
                             "PyTorch model directory it was exported from (an int8 export's accuracy is checked by `export --int8 --data`)")
        check_model_dir(model_dir, "torch")

    _, sq, _ = all_problems(pytorch_model, lambda: load_data(data_file, dataset, flag="--data", need_questions=True),
                            lambda: AnswerSettings("torch", "bf16", batch_size=batch_size))
    hold(os.path.join(model_dir, QA_CONFIG), "check-precision", "--model")  # one writer of the model's settings
    return check_bf16(model_dir, sq.examples, sq.data, batch_size=batch_size, log=log)


__all__ = ["AnswerSettings", "QuestionAnswerer", "calibrate_dir", "check_precision_dir", "evaluate_dir"]
