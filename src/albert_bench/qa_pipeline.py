"""`pipeline("question-answering", model=DIR)`: the extractive QA pipeline that transformers removed in 5.3,
ported onto this project's windows, models and backends.

    from albert_bench import pipeline

    qa = pipeline("question-answering", model="runs/<run>/best")
    qa(question="What is the city of Grace?", context="The city of Grace is Vienna.")
    # {"score": 0.97..., "start": 21, "end": 27, "answer": "Vienna"}
    qa(question=[q1, q2], context=passage, top_k=3)   # a list per question, in order

What it ports, from transformers 4.x's `pipelines/question_answering.py` in its last form (4.57):

- Call forms (`QuestionAnsweringArgumentHandler`): `question=`/`context=` (strings; a list of questions with one
  context; two lists of equal length), `qa(question, context)`, a `{"question", "context"}` dict, several dicts
  as arguments, and a list (or any iterable) of dicts. One input gives one result, even inside a list of one;
  several give a list of results, in order. A result is one answer dict, or a list when more than one answer
  is left after `top_k` (a `top_k` > 1 that finds a single answer gives a dict, as it did).
- Arguments, defaults and checks (`_sanitize_parameters`, `preprocess`): `top_k` 1 (≥ 1; `topk` still works
  and warns), `max_answer_len` 15 tokens (≥ 1), `handle_impossible_answer` False, `align_to_words` True,
  `max_seq_len` min(tokenizer's model_max_length, 384), `doc_stride` min(max_seq_len // 2, 128) (not above
  max_seq_len), `max_question_len` 64. Given to `pipeline(...)` they become the defaults of every call.
- Scores (`select_starts_ends`, `decode_spans`), per window: every token but the context and the CLS token
  gets the logit -10000, then a softmax over the window for start and for end; a span's score is
  p_start × p_end (a probability), over spans that start and end in the context, start ≤ end, at most
  `max_answer_len` tokens. Each window offers its best `top_k` spans, or `2 × top_k + 10` when aligning to words
  (aligning merges some). The no-answer score is the smallest p_start[0] × p_end[0] (position 0, CLS) over the
  windows; it is offered, as `{"score", "start": 0, "end": 0, "answer": ""}`, only with
  `handle_impossible_answer`.
- `align_to_words`: a span grows to the whole words (the tokenizer's pre-tokenizer words) of its first and last
  token, within the window (`Encoding.word_to_chars`); without it, the tokens' own character offsets.
- Answers with the same text, case aside, are one answer (`get_answer`): within a window their scores add up.
  All answers are then sorted by score, highest first (ties keep their order), and the first `top_k` kept.
- Offsets index the context string as given: `context[start:end] == answer`.

Differences from the old pipeline, on purpose:

- The same answer found by several windows (a long context's windows overlap by `doc_stride` tokens) keeps its
  best window's score. The old pipeline added them up too, so an answer in the overlap of two windows could
  score 1.7; each window's scores are a probability distribution of their own, and adding two double-counts.
- `max_question_len` cuts longer questions, as the old documentation said; with a fast tokenizer the old code
  ignored it. Windows must leave room for the longest question: `doc_stride` < max_seq_len − max_question_len − 3
  (`features.FeatureConfig`), where the old one failed only on a question long enough to hit it.
- `top_k` beyond the spans a context has gives fewer answers (as the old documentation said), never the
  zero-score empty spans at CLS that the old selection let through; equal scores go to the earlier start, then
  the shorter span (the old order among ties was NumPy's unstable sort).
- Models: a local model directory (a `train` run's `best/`, an ONNX export), or a loaded model object with
  `tokenizer=`; no hub downloads. Fast tokenizers that pad on the right, as everywhere in this project.
  `backend=` and `precision=` are `QuestionAnswerer`'s. Windows run in batches (`batch_size`), logits agree
  with one-window-at-a-time runs to float noise.
- Gone with transformers 5: `SquadExample` inputs and the `X=`/`data=` keywords (deprecated since 4.x).
  A generator is read to the end and answered as a list.
- Errors are `PipelineError`: a `BenchError` (one line: the argument and the fix) and a `ValueError`, so code
  that caught the old pipeline's ValueError still catches it; a dict without its key raises `PipelineKeyError`,
  a `KeyError` as well.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from .data import Example
from .errors import BenchError
from .features import FeatureConfig, build_features
from .files import lone_surrogate
from .model import infer, load_tokenizer
from .qa import QuestionAnswerer

TASK = "question-answering"

# The old pipeline's own defaults, where they differ from this project's answering (decode.TOP_K candidates,
# DecodeConfig's 30-token answers, a tuned no-answer threshold). Its windows, 384 / 128 / 64, are FeatureConfig's.
TOP_K = 1
MAX_ANSWER_LEN = 15  # tokens
HANDLE_IMPOSSIBLE_ANSWER = False
ALIGN_TO_WORDS = True

_MASKED = np.float32(-10000.0)  # the old pipeline's logit for tokens that cannot hold the answer
CALL_ARGS = ("top_k", "max_answer_len", "handle_impossible_answer", "align_to_words", "max_seq_len", "doc_stride",
             "max_question_len", "batch_size")


class PipelineError(BenchError, ValueError):
    """A bad input or argument: a BenchError (one line, the argument and the fix) and a ValueError, which the
    old pipeline raised for these."""


class PipelineKeyError(PipelineError, KeyError):
    """An input dict without its "question" or "context" key (the old pipeline raised KeyError)."""

    __str__ = BaseException.__str__  # the message as written, not KeyError's quoted repr


@dataclass(frozen=True)
class Options:
    top_k: int
    max_answer_len: int
    handle_impossible_answer: bool
    align_to_words: bool
    windows: FeatureConfig
    batch_size: int | None


def pipeline(task: str | None = TASK, model=None, tokenizer=None, device=None, batch_size: int | None = None,
             backend: str = "auto", precision: str = "fp32", **defaults) -> "QuestionAnsweringPipeline":
    """The old `transformers.pipeline("question-answering", model=..., tokenizer=..., device=...)`.

    `model`: a model directory, or a loaded model object (then `tokenizer=` too: an object or a directory).
    `device`: as the old pipeline took it (-1 CPU, 0 the first GPU, "cuda:1", a torch.device); default: a GPU if
    there is one. `defaults`: call arguments (top_k, max_answer_len, ...) every call starts from.
    """
    if task not in (TASK, None):  # a KeyError too, as transformers' unknown tasks
        raise PipelineKeyError(f"task {task!r}: albert_bench.pipeline only provides {TASK!r} (transformers' removed "
                               f"extractive QA pipeline); for {task!r} use transformers.pipeline")
    _check_names(defaults, "pipeline()")
    if batch_size is not None:
        _int({"batch_size": batch_size}, "batch_size", 1, 1, "windows per forward pass")
    if model is None:
        raise PipelineError("model= is missing: pass a model directory (a training run's best/ folder), or a model object with tokenizer=")
    if isinstance(model, (str, os.PathLike)):
        answerer = QuestionAnswerer.from_pretrained(os.fspath(model), device=_device(device), batch_size=batch_size,
                                                    backend=backend, precision=precision)
        if tokenizer is not None:
            answerer.tokenizer = _tokenizer(tokenizer)
    else:
        if tokenizer is None:
            raise PipelineError("tokenizer= is missing: a model object needs its tokenizer (an object or a directory)")
        answerer = QuestionAnswerer(model, _tokenizer(tokenizer), device=_device(device), batch_size=batch_size,
                                    precision=precision)
    return QuestionAnsweringPipeline(answerer, **defaults)


class QuestionAnsweringPipeline:
    """Callable like the old pipeline object; `model` and `tokenizer` are there too, `answerer` is the
    `QuestionAnswerer` that runs the model (backend, precision, device)."""

    task = TASK

    def __init__(self, answerer: QuestionAnswerer, **defaults):
        self.answerer = answerer
        self._defaults = _given(defaults, stacklevel=4)
        _options(self._defaults, answerer.tokenizer, _positions(answerer))  # bad defaults fail here, not at the first call

    @property
    def model(self):
        return self.answerer.model

    @property
    def tokenizer(self):
        return self.answerer.tokenizer

    def __call__(self, *args, **kwargs):
        inputs = {k: kwargs.pop(k) for k in ("question", "context") if k in kwargs}
        _check_names(kwargs, "the call")
        opts = _options({**self._defaults, **_given(kwargs, stacklevel=3)}, self.tokenizer, _positions(self.answerer))
        results = answer_pairs(self.answerer, read_inputs(args, inputs), opts)
        return results[0] if len(results) == 1 else results


# --- Arguments --------------------------------------------------------------------------------------------------

def _check_names(kwargs: dict, where: str) -> None:
    unknown = sorted(set(kwargs) - set(CALL_ARGS) - {"topk"})
    if unknown:
        takes = "question, context" if where == "the call" else "task, model, tokenizer, device, backend, precision"
        raise PipelineError(f"unknown argument {unknown[0]!r} to {where}; it takes {takes}, {', '.join(CALL_ARGS)}")


def _given(args: dict, stacklevel: int) -> dict:
    """The arguments set, as the old pipeline read them: None means "not given", `topk` is the old name of top_k."""
    args = {k: v for k, v in args.items() if v is not None}
    if "topk" in args:
        topk = args.pop("topk")
        if "top_k" not in args:  # both given: top_k wins, silently, as before
            warnings.warn("topk parameter is deprecated, use top_k instead", UserWarning, stacklevel=stacklevel)
            args["top_k"] = topk
    return args


def _int(args: dict, name: str, default: int, minimum: int, fix: str) -> int:
    v = args.get(name, default)
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < minimum:
        raise PipelineError(f"{name}={v!r}: must be an integer >= {minimum}; {fix}")
    return int(v)


def _flag(args: dict, name: str, default: bool) -> bool:
    v = args.get(name, default)
    if not isinstance(v, (bool, np.bool_)) and v not in (0, 1):
        raise PipelineError(f"{name}={v!r}: must be True or False")
    return bool(v)


# FeatureConfig words its limits for the command line; the pipeline's users know these names.
_OUR_NAMES = {"--max-seq-length": "max_seq_len", "--doc-stride": "doc_stride", "--max-query-length": "max_question_len",
              "max_seq_length": "max_seq_len", "max_query_length": "max_question_len"}


def _positions(answerer: QuestionAnswerer) -> int | None:
    """How many token positions the model has (max_position_embeddings), when it says."""
    return getattr(getattr(answerer.model, "config", None), "max_position_embeddings", None)


def _options(args: dict, tokenizer, positions: int | None = None) -> Options:
    top_k = _int(args, "top_k", TOP_K, 1, "pass top_k=1 for the best answer, more for a ranked list")
    max_answer_len = _int(args, "max_answer_len", MAX_ANSWER_LEN, 1, f"the longest answer in tokens (the old default: {MAX_ANSWER_LEN})")
    max_seq_len = _int(args, "max_seq_len", min(tokenizer.model_max_length, FeatureConfig.max_seq_length), 1,
                       f"tokens per window, question included (the old default: {FeatureConfig.max_seq_length})")
    doc_stride = _int(args, "doc_stride", min(max_seq_len // 2, FeatureConfig.doc_stride), 0,
                      f"tokens shared by consecutive windows (the old default: {FeatureConfig.doc_stride})")
    max_question_len = _int(args, "max_question_len", FeatureConfig.max_query_length, 1,
                            f"longer questions are cut to this many tokens (the old default: {FeatureConfig.max_query_length})")
    if positions is not None and max_seq_len > positions:
        raise PipelineError(f"max_seq_len={max_seq_len}: the model has {positions} token positions (max_position_embeddings); pass at most {positions}")
    # A span is never longer than its window: a larger max_answer_len changes no answer, so it is cut to the window
    # (the search would otherwise allocate max_answer_len candidates per token: 10**6 took 2.8 GiB).
    max_answer_len = min(max_answer_len, max_seq_len)
    batch = args.get("batch_size")
    batch_size = None if batch is None else _int(args, "batch_size", 1, 1, "windows per forward pass")  # None: the answerer's
    if doc_stride > max_seq_len:  # the old pipeline's own check, and its wording
        raise PipelineError(f"doc_stride={doc_stride} is larger than max_seq_len={max_seq_len}; pass a smaller doc_stride")
    try:
        windows = FeatureConfig(max_seq_len, doc_stride, max_question_len)
    except BenchError as e:
        msg = str(e)
        for flag, name in _OUR_NAMES.items():
            msg = msg.replace(flag, name)
        raise PipelineError(f"max_seq_len={max_seq_len}, doc_stride={doc_stride}, max_question_len={max_question_len}: {msg}") from None
    return Options(top_k, max_answer_len, _flag(args, "handle_impossible_answer", HANDLE_IMPOSSIBLE_ANSWER),
                   _flag(args, "align_to_words", ALIGN_TO_WORDS), windows, batch_size)


def _device(device):
    """The old pipeline's device argument (-1 CPU, n GPU n, a string, a torch.device) as QuestionAnswerer takes it."""
    if device is None or isinstance(device, str):
        return device
    if isinstance(device, int) and not isinstance(device, bool):
        return "cpu" if device < 0 else f"cuda:{device}"
    return str(device)  # a torch.device


def _tokenizer(tokenizer):
    if isinstance(tokenizer, (str, os.PathLike)):
        return load_tokenizer(os.fspath(tokenizer))
    if not getattr(tokenizer, "is_fast", False):
        raise PipelineError("tokenizer=: not a fast tokenizer; answers are cut from the context by character offsets, which need one")
    return tokenizer


# --- Inputs -----------------------------------------------------------------------------------------------------

_SHAPE = "pass question= and context=, a {'question': ..., 'context': ...} dict, or a list of such dicts"


def read_inputs(args: tuple, kw: dict) -> list[tuple[str, str]]:
    """(question, context) pairs from any call form the old pipeline took (its QuestionAnsweringArgumentHandler)."""
    if args and kw:
        raise PipelineError(f"inputs given both as arguments and as {'/'.join(f'{k}=' for k in kw)}; pass them one way")
    if args:
        if len(args) == 1:
            items = args[0]
        elif len(args) == 2 and all(type(a) is str for a in args):
            items = [{"question": args[0], "context": args[1]}]
        else:
            items = list(args)
    elif len(kw) == 2:
        q, c = kw["question"], kw["context"]
        if isinstance(q, (list, tuple)) and isinstance(c, str):
            items = [{"question": x, "context": c} for x in q]
        elif isinstance(q, (list, tuple)) and isinstance(c, (list, tuple)):
            if len(q) != len(c):
                raise PipelineError(f"question= has {len(q)} questions and context= {len(c)} contexts; pass one context per question, or one context for all")
            items = [{"question": x, "context": y} for x, y in zip(q, c)]
        elif isinstance(q, str) and isinstance(c, str):
            items = [{"question": q, "context": c}]
        else:
            raise PipelineError(f"question= and context= take strings or lists of strings, not {type(q).__name__} and {type(c).__name__}")
    elif kw:
        given = next(iter(kw))
        raise PipelineError(f"{given}= alone: pass both question= and context=")
    else:
        raise PipelineError(f"no input: {_SHAPE}")
    if isinstance(items, dict):
        items = [items]
    elif isinstance(items, str):
        raise PipelineError("one string is not an input: pass question= and context=, or qa(question, context)")
    elif isinstance(items, Iterable):
        items = list(items)
    else:
        raise PipelineError(f"a {type(items).__name__} is not an input: {_SHAPE}")
    return [_pair(i, item) for i, item in enumerate(items)]


def _pair(i: int, item) -> tuple[str, str]:
    if not isinstance(item, dict):
        raise PipelineError(f"input {i} is a {type(item).__name__}: {_SHAPE} (SquadExample went with transformers 5)")
    for k in ("question", "context"):
        if k not in item:
            raise PipelineKeyError(f"input {i} has no {k!r} key: pass dicts with the keys 'question' and 'context'")
        v = item[k]
        if v is None or (isinstance(v, str) and not v):
            raise PipelineError(f"input {i}: `{k}` cannot be {'None' if v is None else 'empty'}; pass the {k} as text")
        if not isinstance(v, str):
            raise PipelineError(f"input {i}: `{k}` must be a string, not {type(v).__name__}")
        if (at := lone_surrogate(v)) is not None:
            raise PipelineError(f"input {i}: `{k}` holds a lone surrogate at character {at} (not valid Unicode); pass valid text")
    return item["question"], item["context"]


# --- Answers ----------------------------------------------------------------------------------------------------

def answer_pairs(answerer: QuestionAnswerer, pairs: list[tuple[str, str]], opts: Options) -> list:
    """The old pipeline's result for each pair: an answer dict, or a list of them."""
    tok = answerer.tokenizer
    examples = [Example(str(i), q, c, []) for i, (q, c) in enumerate(pairs)]
    feats = build_features(examples, tok, opts.windows)
    starts, ends, _ = infer(answerer.model, tok, feats, opts.batch_size or answerer.batch_size, answerer.device, autocast=answerer.autocast)
    by_example: list[list[int]] = [[] for _ in pairs]
    for w, ex in enumerate(feats.example_index.tolist()):
        by_example[ex].append(w)
    words: dict[str, np.ndarray] = {}  # context → word bounds, once per distinct context
    results = []
    for (_, context), ws in zip(pairs, by_example):
        if opts.align_to_words and context not in words:
            words[context] = word_bounds(tok, context)
        windows = [(feats.input_ids[w], feats.offsets[w], starts[w], ends[w]) for w in ws]
        answers = postprocess(context, windows, tok.cls_token_id, opts, words.get(context))
        results.append(answers[0] if len(answers) == 1 else answers)
    return results


def postprocess(context: str, windows: list, cls_id: int | None, opts: Options, words: np.ndarray | None) -> list[dict]:
    """One example's answers, best first, at most top_k: the old `postprocess`, from each window's
    (input_ids, offsets, start logits, end logits); offsets are -1 outside the context."""
    # The old pipeline over-fetches when aligning to words: spans that align to the same words merge.
    k = 2 * opts.top_k + 10 if opts.align_to_words else opts.top_k
    null = np.inf
    found: dict[str, dict] = {}  # lower-cased text → answer, in the order first found
    for ids, offs, start_logits, end_logits in windows:
        ctx = offs[:, 0] >= 0
        allowed = ctx | (ids == cls_id) if cls_id is not None else ctx  # CLS stays: it is the no-answer slot
        p_start, p_end = masked_softmax(start_logits, allowed), masked_softmax(end_logits, allowed)
        null = min(null, float(p_start[0] * p_end[0]))
        p_start[0] = p_end[0] = 0.0  # position 0 (CLS) never starts or ends an answer
        scores, a, b = top_spans(p_start, p_end, ctx, k, opts.max_answer_len)
        char_s, char_e = offs[a, 0], offs[b, 1]
        if words is not None and len(a):
            char_s, char_e = align_to_words(words, char_s, offs[b, 0], offs[ctx][0, 0], offs[ctx][-1, 1])
        in_window: dict[str, dict] = {}
        for score, s, e in zip(scores.tolist(), char_s.tolist(), char_e.tolist()):
            text = context[s:e]
            same = in_window.get(text.lower())
            if same:  # another token span of the same answer (mostly: the same words, once aligned)
                same["score"] += score
            else:
                in_window[text.lower()] = {"score": score, "start": s, "end": e, "answer": text}
        for key, ans in in_window.items():
            if key not in found or ans["score"] > found[key]["score"]:  # across windows: the best window's
                found[key] = ans
    answers = list(found.values())
    if opts.handle_impossible_answer and windows:
        answers.append({"score": null, "start": 0, "end": 0, "answer": ""})
    return sorted(answers, key=lambda x: x["score"], reverse=True)[: opts.top_k]


def masked_softmax(logits, allowed: np.ndarray) -> np.ndarray:
    """The old pipeline's probabilities over one window, in float32 as it computed them: tokens that are not
    allowed get the logit -10000 (an exact 0 after exp), then a softmax shifted by the maximum."""
    x = np.where(allowed, np.asarray(logits, dtype=np.float32), _MASKED)
    x = np.exp(x - x.max())
    return x / x.sum()


def top_spans(p_start: np.ndarray, p_end: np.ndarray, ctx: np.ndarray, k: int, max_len: int):
    """The k best spans of a window by p_start × p_end: (scores, starts, ends), best first; a span starts and
    ends in the context, start ≤ end, at most `max_len` tokens. Equal scores: earlier start, then shorter."""
    pos = np.flatnonzero(ctx)
    a = np.repeat(pos, max_len)
    b = a + np.tile(np.arange(max_len), len(pos))
    keep = b < len(ctx)
    a, b = a[keep], b[keep]
    keep = ctx[b]
    a, b = a[keep], b[keep]
    scores = p_start[a] * p_end[b]  # float32, as the old outer product
    order = np.lexsort((b, a, -scores))[:k]
    return scores[order], a[order], b[order]


def word_bounds(tokenizer, context: str) -> np.ndarray:
    """[words, 2] character span of each of the context's words, as the tokenizer's pre-tokenizer splits them
    (what `Encoding.word_to_chars` reports), in order."""
    # Through the tokenizer's own call, not its backend: that call turns off truncation left on by an earlier one
    enc = tokenizer(context, add_special_tokens=False, return_offsets_mapping=True)
    word = np.array([-1 if w is None else w for w in enc.word_ids()], dtype=np.int64)
    offs = np.asarray(enc["offset_mapping"], dtype=np.int64).reshape(-1, 2)
    has = word >= 0
    n = int(word.max()) + 1 if has.any() else 0
    bounds = np.stack([np.full(n, np.iinfo(np.int64).max), np.full(n, -1)], axis=1)
    np.minimum.at(bounds[:, 0], word[has], offs[has, 0])
    np.maximum.at(bounds[:, 1], word[has], offs[has, 1])
    return bounds[bounds[:, 1] >= 0]


def align_to_words(words: np.ndarray, char_s: np.ndarray, end_token_s: np.ndarray, first: int, last: int):
    """Spans grown to whole words: the start to its word's first character, the end to its word's last, but
    not past the window's context (`first`, `last`), as `Encoding.word_to_chars` on a window does.
    `char_s`/`end_token_s`: where the span's first and last token begin."""
    at = lambda c: np.maximum(np.searchsorted(words[:, 0], c, side="right") - 1, 0)  # noqa: E731 - the word holding c
    return np.maximum(words[at(char_s), 0], first), np.minimum(words[at(end_token_s), 1], last)


__all__ = ["pipeline", "QuestionAnsweringPipeline", "PipelineError", "PipelineKeyError"]
