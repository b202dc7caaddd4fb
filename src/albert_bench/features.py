"""Examples → model inputs: question first, context second, overlapping windows over long contexts.

Each window ("feature") keeps the character offsets of its context tokens, so that a predicted token span is
cut from the ORIGINAL context string. Decoding token ids back to text would lose case and accents (ALBERT's
tokenizer lowercases and strips them); the original notebook did that and returned wrong answers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .data import Example
from . import settings
from .errors import BenchError
from .files import atomic_write
from .settings import setting


LABEL_RULES = ("shortest", "first")


@dataclass(frozen=True)
class FeatureConfig:
    max_seq_length: int = setting(384, "tokens per window, special tokens included", lo=8, hi=65_536)
    doc_stride: int = setting(128, "tokens shared by consecutive windows of one context (Hugging Face's meaning)", lo=0, hi=65_536)
    max_query_length: int = setting(64, "questions are cut to this many tokens", lo=1, hi=65_536)
    label_rule: str = setting("shortest", "which gold answer labels a question with several: 'shortest' counted by the metric, "
                                          "or 'first' (as run_qa.py); training files have one", choices=LABEL_RULES, flag="--label-answer")

    def __post_init__(self):
        settings.check(self)
        if self.max_query_length + 4 > self.max_seq_length:
            raise BenchError(f"max_query_length (--max-query-length) {self.max_query_length} leaves no room for context in max_seq_length "
                             f"(--max-seq-length) {self.max_seq_length}; lower the one or raise the other")
        if not 0 <= self.doc_stride < self.max_seq_length - self.max_query_length - 3:
            raise BenchError(f"doc_stride (--doc-stride) {self.doc_stride} must be below max_seq_length - max_query_length - 3 = "
                             f"{self.max_seq_length - self.max_query_length - 3}; lower it")


@dataclass
class Features:
    """Windows of many examples. Variable-length rows: padding happens per batch (dynamic padding)."""

    input_ids: list[np.ndarray]
    token_type_ids: list[np.ndarray]
    offsets: list[np.ndarray]  # [len, 2] character span of each token in the context; -1 outside the context
    example_index: np.ndarray  # [n] which example each window came from
    start_positions: np.ndarray  # [n] token index of the answer start, or cls_index when not in the window
    end_positions: np.ndarray
    cls_index: np.ndarray  # [n] position of the CLS token (the "no answer" slot)

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def lengths(self) -> np.ndarray:
        return np.fromiter((len(x) for x in self.input_ids), dtype=np.int64, count=len(self.input_ids))

    def flat_offsets(self) -> np.ndarray:
        """All windows' offsets end to end, [total tokens, 2]; computed once (the decoder needs them per call)."""
        key = (id(self.offsets), len(self.offsets))  # features are not edited in place; a new list is new features
        cached = self.__dict__.get("_flat_offsets")
        if cached is None or cached[0] != key:
            cached = (key, np.concatenate(self.offsets) if self.offsets else np.empty((0, 2), np.int32))
            self.__dict__["_flat_offsets"] = cached
        return cached[1]


def truncate_questions(questions: list[str], tokenizer, max_query_length: int) -> list[str]:
    """Cut each question after its `max_query_length`-th token, on the original string."""
    enc = tokenizer(questions, add_special_tokens=False, return_offsets_mapping=True)
    out = []
    for q, ids, offs in zip(questions, enc["input_ids"], enc["offset_mapping"]):
        out.append(q[: offs[max_query_length - 1][1]] if len(ids) > max_query_length else q)
    return out


def label_window(offsets: np.ndarray, start_char: int, end_char: int, cls: int) -> tuple[int, int]:
    """(start token, end token) of the answer when it lies wholly inside the window's context, else (cls, cls)."""
    ctx = np.flatnonzero(offsets[:, 0] >= 0)
    if ctx.size == 0 or offsets[ctx[0], 0] > start_char or offsets[ctx[-1], 1] < end_char:
        return cls, cls
    c = offsets[ctx]
    # First context token ending after the answer start; last context token starting before its end.
    i = np.searchsorted(c[:, 1], start_char, side="right")
    j = np.searchsorted(c[:, 0], end_char, side="left") - 1
    if i >= len(ctx) or j < i:  # nothing of the answer is inside a token (e.g. only whitespace)
        return cls, cls
    return int(ctx[i]), int(ctx[j])


def label_answer(ex: Example, rule: str = "shortest"):
    """The gold answer used as the label: the shortest one that the metric counts (first among equals), or with
    rule "first" the first one, as Hugging Face's run_qa.py labels.

    Training files have one answer per question, so this only matters for dev-style files with several: the
    shortest answer is the one most likely to fit the decoder's `max_answer_length`. Answers that normalise
    to nothing (a lone ".") are ignored by the official metric, so they make useless labels.
    """
    from .metric import normalize_answer

    if rule == "first":
        return ex.answers[0]
    counted = [a for a in ex.answers if normalize_answer(a.text)] or ex.answers
    return min(counted, key=lambda a: len(a.text))


def _columns() -> dict[str, list]:
    return {k: [] for k in ("input_ids", "token_type_ids", "offsets", "example_index", "start", "end", "cls")}


def _from_columns(cols: dict[str, list]) -> Features:
    as_int = lambda k: np.asarray(cols[k], dtype=np.int64)  # noqa: E731
    return Features(cols["input_ids"], cols["token_type_ids"], cols["offsets"], as_int("example_index"),
                    as_int("start"), as_int("end"), as_int("cls"))


def build_features_reference(examples: list[Example], tokenizer, cfg: FeatureConfig = FeatureConfig(), batch_size: int = 1000, progress: bool = False) -> Features:
    """The usual way: tokenize each (question, context) pair with the tokenizer's own overflow windows.

    Kept as the reference that `build_features` must reproduce byte for byte (tests and benchmarks compare
    them); it re-tokenizes a paragraph's context once per question, about ten times over on SQuAD.
    """
    from .progress import bar as progress_bar

    pad_right = tokenizer.padding_side == "right"
    if not pad_right:
        raise BenchError("tokenizers that pad on the left are not supported (question first, context second)")
    cols = _columns()
    bar = progress_bar(total=len(examples), desc="features", unit="q", disable=not progress)
    for lo in range(0, len(examples), batch_size):
        chunk = examples[lo : lo + batch_size]
        questions = truncate_questions([e.question.lstrip() for e in chunk], tokenizer, cfg.max_query_length)
        enc = tokenizer(
            questions,
            [e.context for e in chunk],
            truncation="only_second",
            max_length=cfg.max_seq_length,
            stride=cfg.doc_stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            return_token_type_ids=True,
            padding=False,
        )
        for i, ex_in_chunk in enumerate(enc["overflow_to_sample_mapping"]):
            ids = np.asarray(enc["input_ids"][i], dtype=np.int32)
            seq = enc.sequence_ids(i)
            offs = np.asarray(enc["offset_mapping"][i], dtype=np.int32).reshape(-1, 2)
            offs[[s != 1 for s in seq]] = -1
            cls = int(np.flatnonzero(ids == tokenizer.cls_token_id)[0]) if tokenizer.cls_token_id in ids else 0
            ex = chunk[ex_in_chunk]
            start = end = cls
            if ex.answers:
                a = label_answer(ex, cfg.label_rule)
                start, end = label_window(offs, a.start, a.end, cls)
            cols["input_ids"].append(ids)
            cols["token_type_ids"].append(np.asarray(enc["token_type_ids"][i], dtype=np.int8))
            cols["offsets"].append(offs)
            cols["example_index"].append(lo + ex_in_chunk)
            cols["start"].append(start)
            cols["end"].append(end)
            cols["cls"].append(cls)
        bar.update(len(chunk))
    bar.close()
    return _from_columns(cols)


def label_round_trip(examples: list[Example], feats: Features) -> dict:
    """How many answerable examples have a labelled span that reads back, from the context, as a gold answer."""
    from .metric import normalize_answer

    answerable = [i for i, e in enumerate(examples) if e.answers]
    labelled = set()
    first_ok: dict[int, tuple[bool, bool]] = {}
    for f in range(len(feats)):
        s, e = int(feats.start_positions[f]), int(feats.end_positions[f])
        if s == feats.cls_index[f]:
            continue
        ei = int(feats.example_index[f])
        ex = examples[ei]
        text = ex.context[feats.offsets[f][s, 0] : feats.offsets[f][e, 1]]
        golds = [a.text for a in ex.answers]
        labelled.add(ei)
        ok = (text in golds, normalize_answer(text) in {normalize_answer(g) for g in golds})
        prev = first_ok.get(ei, (True, True))
        first_ok[ei] = (prev[0] and ok[0], prev[1] and ok[1])
    exact = sum(v[0] for v in first_ok.values())
    normalized = sum(v[1] for v in first_ok.values())
    n = max(len(answerable), 1)
    return {
        "answerable": len(answerable),
        "labelled": len(labelled),
        "exact_text": 100.0 * exact / n,
        "normalized_text": 100.0 * normalized / n,
        "unlabelled_ids": [examples[i].id for i in answerable if i not in labelled][:20],
    }


# --- Fast path: each context tokenized once --------------------------------------------------------------------

@dataclass(frozen=True)
class _PairTemplate:
    """Special tokens around (question, context), read off the tokenizer's own post-processor."""

    prefix: np.ndarray  # ids before the question, e.g. [CLS]
    mid: np.ndarray  # between question and context, e.g. [SEP] (RoBERTa: </s></s>)
    suffix: np.ndarray  # after the context, e.g. [SEP]
    prefix_types: np.ndarray
    mid_types: np.ndarray
    suffix_types: np.ndarray
    q_type: int
    c_type: int


def _backend(tokenizer):
    """The Rust tokenizer, without the truncation or padding an earlier call may have left switched on (transformers'
    calls switch them per call and leave them): what transformers' own call with neither does."""
    backend = tokenizer.backend_tokenizer
    if backend.truncation is not None:
        backend.no_truncation()
    if backend.padding is not None:
        backend.no_padding()
    return backend


def _pair_template(tokenizer) -> _PairTemplate | None:
    """The layout `[prefix] question [mid] context [suffix]`, or None when the tokenizer does not follow it."""
    enc = _backend(tokenizer).encode("who", "there")  # the tokenizer's own pair encoding, special tokens added
    ids, types, seq = enc.ids, enc.type_ids, enc.sequence_ids
    pos0 = [i for i, s in enumerate(seq) if s == 0]
    pos1 = [i for i, s in enumerate(seq) if s == 1]
    if not pos0 or not pos1 or pos0 != list(range(pos0[0], pos0[-1] + 1)) or pos1 != list(range(pos1[0], pos1[-1] + 1)) or pos0[-1] >= pos1[0]:
        return None
    q_types, c_types = {types[i] for i in pos0}, {types[i] for i in pos1}
    if len(q_types) != 1 or len(c_types) != 1:
        return None
    a, b, c, d = pos0[0], pos0[-1] + 1, pos1[0], pos1[-1] + 1
    arr = lambda x, t: np.asarray(x, dtype=t)  # noqa: E731
    if a + (c - b) + (len(ids) - d) != tokenizer.num_special_tokens_to_add(pair=True):
        return None
    return _PairTemplate(
        arr(ids[:a], np.int32), arr(ids[b:c], np.int32), arr(ids[d:], np.int32),
        arr(types[:a], np.int8), arr(types[b:c], np.int8), arr(types[d:], np.int8),
        q_types.pop(), c_types.pop(),
    )


def _trims_offsets(tokenizer) -> bool:
    """Byte-level BPE post-processors with trim_offsets (RoBERTa) trim the first token of every overflow window
    as if it began the text, so cutting windows from one encoding would give other offsets: use the reference."""
    pp = tokenizer.backend_tokenizer.post_processor
    return pp is not None and b'"trim_offsets":true' in pp.__getstate__().replace(b" ", b"")


def _encode(tokenizer, texts: list[str], offsets: bool):
    """Token ids (and character offsets) of texts without special tokens, straight from the Rust tokenizer."""
    encs = _backend(tokenizer).encode_batch(texts, add_special_tokens=False)
    ids = [np.asarray(e.ids, dtype=np.int32) for e in encs]
    if not offsets:
        return ids, None
    return ids, [np.asarray(e.offsets, dtype=np.int32).reshape(-1, 2) for e in encs]


def window_spans(n: int, budget: int, q_len: int, doc_stride: int, who: str = "question") -> list[tuple[int, int]]:
    """The [start, end) context-token ranges of the windows of a context of `n` tokens beside a question of
    `q_len` tokens, with `budget` tokens for both: tokenizers' `Encoding::truncate` (direction right)."""
    room = budget - q_len
    if n <= room:
        return [(0, n)]
    if room <= doc_stride:  # the tokenizer itself would panic here
        raise BenchError(f"{who}: {q_len} tokens leave {room} for the context, not more than doc_stride {doc_stride}; lower --max-query-length or --doc-stride")
    spans, step = [], room - doc_stride
    for a in range(0, n, step):
        spans.append((a, min(a + room, n)))
        if spans[-1][1] == n:
            break
    return spans


def count_windows(pairs: list[tuple[str, str]], tokenizer, cfg: FeatureConfig = FeatureConfig()) -> list[int]:
    """How many windows each (question, context) pair becomes, without building them: what answering it costs.
    Counted as `build_features` cuts them (a question longer than max_query_length counts as that long)."""
    questions = [q.lstrip() for q, _ in pairs]
    contexts = list(dict.fromkeys(c for _, c in pairs))
    q_lens = [min(len(ids), cfg.max_query_length) for ids in _encode(tokenizer, questions, offsets=False)[0]]
    c_lens = dict(zip(contexts, (len(ids) for ids in _encode(tokenizer, contexts, offsets=False)[0])))
    budget = cfg.max_seq_length - tokenizer.num_special_tokens_to_add(pair=True)
    return [len(window_spans(c_lens[c], budget, ql, cfg.doc_stride, f"question {i}")) for i, ((_, c), ql) in enumerate(zip(pairs, q_lens))]


def build_features(examples: list[Example], tokenizer, cfg: FeatureConfig = FeatureConfig(), progress: bool = False) -> Features:
    """Tokenize (question, context) pairs into overlapping windows with labels and context offsets.

    Same windows as `build_features_reference` (the tokenizer's own pair encoding with overflow), byte for byte,
    but each distinct context is tokenized once and the windows are cut from it: SQuAD asks about ten
    questions per paragraph, so most of the tokenizer's work was repeated. The window arithmetic is the one in
    `tokenizers` (`Encoding::truncate`): the context gets `max_seq_length - specials - len(question)` tokens per
    window and consecutive windows start `that - doc_stride` tokens apart, the last one ending at the context end.
    """
    from .progress import bar as progress_bar

    if tokenizer.padding_side != "right":
        raise BenchError("tokenizers that pad on the left are not supported (question first, context second)")
    tpl = _pair_template(tokenizer)
    if tpl is None or _trims_offsets(tokenizer):
        return build_features_reference(examples, tokenizer, cfg, progress=progress)
    bar = progress_bar(total=len(examples), desc="features", unit="q", disable=not progress)

    # Questions: tokenized once; the few longer than max_query_length are cut on the string and re-tokenized,
    # exactly as the reference does, because tokenizing a cut string can differ from cutting the tokens.
    questions = [e.question.lstrip() for e in examples]
    enc = _backend(tokenizer).encode_batch(questions, add_special_tokens=False)
    q_ids = [np.asarray(e.ids, dtype=np.int32) for e in enc]
    long_q = [i for i, e in enumerate(enc) if len(e.ids) > cfg.max_query_length]
    if long_q:
        cut = [questions[i][: enc[i].offsets[cfg.max_query_length - 1][1]] for i in long_q]
        for i, ids in zip(long_q, _encode(tokenizer, cut, offsets=False)[0]):
            q_ids[i] = ids

    ctx_index: dict[str, int] = {}
    ex_ctx = np.fromiter((ctx_index.setdefault(e.context, len(ctx_index)) for e in examples), dtype=np.int64, count=len(examples))
    c_ids, c_offs = _encode(tokenizer, list(ctx_index), offsets=True)

    n_special = len(tpl.prefix) + len(tpl.mid) + len(tpl.suffix)
    cls_id = tokenizer.cls_token_id
    cls_in_prefix = np.flatnonzero(tpl.prefix == cls_id) if cls_id is not None else np.empty(0)
    budget = cfg.max_seq_length - n_special
    cols = _columns()
    for ei, ex in enumerate(examples):
        q, ci = q_ids[ei], ex_ctx[ei]
        cids, coffs = c_ids[ci], c_offs[ci]
        spans = window_spans(len(cids), budget, len(q), cfg.doc_stride, f"question {ex.id}")
        head_ids = np.concatenate([tpl.prefix, q, tpl.mid])
        head_types = np.concatenate([tpl.prefix_types, np.full(len(q), tpl.q_type, np.int8), tpl.mid_types])
        p0 = len(head_ids)
        label = label_answer(ex, cfg.label_rule) if ex.answers else None
        for a, b in spans:
            ids = np.concatenate([head_ids, cids[a:b], tpl.suffix])
            if cls_in_prefix.size:
                cls = int(cls_in_prefix[0])
            else:
                hit = np.flatnonzero(ids == cls_id) if cls_id is not None else np.empty(0)
                cls = int(hit[0]) if hit.size else 0
            offs = np.full((len(ids), 2), -1, dtype=np.int32)
            w = coffs[a:b]
            offs[p0 : p0 + (b - a)] = w
            start = end = cls
            if label is not None and b > a and w[0, 0] <= label.start and w[-1, 1] >= label.end:
                # label_window, on the context tokens of this window only
                i = int(np.searchsorted(w[:, 1], label.start, side="right"))
                j = int(np.searchsorted(w[:, 0], label.end, side="left")) - 1
                if i < b - a and j >= i:
                    start, end = p0 + i, p0 + j
            cols["input_ids"].append(ids)
            cols["token_type_ids"].append(np.concatenate([head_types, np.full(b - a, tpl.c_type, np.int8), tpl.suffix_types]))
            cols["offsets"].append(offs)
            cols["example_index"].append(ei)
            cols["start"].append(start)
            cols["end"].append(end)
            cols["cls"].append(cls)
        if ei % 1000 == 999:
            bar.update(1000)
    bar.update(len(examples) % 1000)
    bar.close()
    return _from_columns(cols)


def features_equal(a: Features, b: Features) -> str | None:
    """None when two feature sets are byte-identical, else what differs first."""
    if len(a) != len(b):
        return f"{len(a)} windows vs {len(b)}"
    for name in ("example_index", "start_positions", "end_positions", "cls_index"):
        x, y = getattr(a, name), getattr(b, name)
        if not np.array_equal(x, y):
            k = int(np.flatnonzero(x != y)[0])
            return f"{name} differs at window {k}: {x[k]} vs {y[k]}"
    for name in ("input_ids", "token_type_ids", "offsets"):
        for k, (x, y) in enumerate(zip(getattr(a, name), getattr(b, name))):
            if x.dtype != y.dtype or x.shape != y.shape or not np.array_equal(x, y):
                return f"{name} differs at window {k}"
    return None


# --- On-disk cache ----------------------------------------------------------------------------------------------

CACHE_FORMAT = 1  # bump when the features for the same inputs change


def features_cache_key(examples: list[Example], tokenizer, cfg: FeatureConfig) -> str:
    """sha256 of what the features depend on: the questions and contexts, the tokenizer, the window settings,
    and the versions of the code that turns them into features."""
    import hashlib
    import json

    import tokenizers

    from . import __version__

    def field(b: bytes) -> bytes:  # length-prefixed, so no two different inputs hash the same bytes
        return b"%d:" % len(b) + b

    h = hashlib.sha256()
    h.update(json.dumps({"format": CACHE_FORMAT, "albert_bench": __version__, "tokenizers": tokenizers.__version__,
                         "cfg": [cfg.max_seq_length, cfg.doc_stride, cfg.max_query_length] + ([cfg.label_rule] if cfg.label_rule != "shortest" else []),
                         "tok": [type(tokenizer).__name__, tokenizer.padding_side, tokenizer.cls_token_id]}).encode())
    tok = json.loads(tokenizer.backend_tokenizer.to_str())
    tok["truncation"] = tok["padding"] = None  # call-time state, not part of the tokenizer's definition
    h.update(field(json.dumps(tok, sort_keys=True).encode()))
    first_use: dict[str, int] = {}
    for e in examples:
        h.update(field(e.id.encode()) + field(e.question.encode()) + b"%d;" % len(e.answers))
        for a in e.answers:
            h.update(b"%d;" % a.start + field(a.text.encode()))
        if e.context in first_use:  # contexts repeat ~10 times; hash each once, then refer to it by number
            h.update(b"C%d;" % first_use[e.context])
        else:
            first_use[e.context] = len(first_use)
            h.update(b"N" + field(e.context.encode()))
    return h.hexdigest()


def save_features(feats: Features, path: str) -> None:
    lengths = feats.lengths
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with atomic_write(path, "wb", what="the features cache") as f:
        np.savez(
            f, lengths=lengths,
            input_ids=np.concatenate(feats.input_ids) if len(feats) else np.empty(0, np.int32),
            token_type_ids=np.concatenate(feats.token_type_ids) if len(feats) else np.empty(0, np.int8),
            offsets=np.concatenate(feats.offsets) if len(feats) else np.empty((0, 2), np.int32),
            example_index=feats.example_index, start_positions=feats.start_positions,
            end_positions=feats.end_positions, cls_index=feats.cls_index,
        )


def load_features(path: str) -> Features:
    with np.load(path) as z:
        if len(z["lengths"]) == 0:
            return Features([], [], [], z["example_index"], z["start_positions"], z["end_positions"], z["cls_index"])
        cut = np.cumsum(z["lengths"])[:-1]
        return Features(
            input_ids=np.split(z["input_ids"], cut), token_type_ids=np.split(z["token_type_ids"], cut),
            offsets=np.split(z["offsets"], cut), example_index=z["example_index"],
            start_positions=z["start_positions"], end_positions=z["end_positions"], cls_index=z["cls_index"],
        )


def cached_features(examples: list[Example], tokenizer, cfg: FeatureConfig = FeatureConfig(), cache_dir: str | None = None, progress: bool = False, log=None) -> Features:
    """`build_features`, stored under the cache directory; a second run with the same inputs reads it back.

    cache_dir "" (or ALBERT_BENCH_FEATURE_CACHE=0) turns the cache off. A damaged cache file is rebuilt.
    """
    if cache_dir == "" or os.environ.get("ALBERT_BENCH_FEATURE_CACHE") == "0":
        return build_features(examples, tokenizer, cfg, progress=progress)
    import zipfile

    from .data import default_cache_dir

    root = cache_dir or str(default_cache_dir() / "features")
    path = os.path.join(root, features_cache_key(examples, tokenizer, cfg) + ".npz")
    if os.path.exists(path):
        try:
            feats = load_features(path)
            if log:
                log(f"features: {len(feats):,} windows from cache {path}")
            return feats
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
            if log:
                log(f"features: cache file {path} unreadable ({e}); rebuilding it")
    feats = build_features(examples, tokenizer, cfg, progress=progress)
    try:
        save_features(feats, path)
    except (OSError, BenchError) as e:  # a read-only or full cache must not stop the job
        if log:
            log(f"warning: cannot write the feature cache {path} ({e}); set ALBERT_BENCH_CACHE to a writable directory")
    return feats
