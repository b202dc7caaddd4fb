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
from .errors import BenchError


@dataclass(frozen=True)
class FeatureConfig:
    max_seq_length: int = 384  # tokens per window, special tokens included
    doc_stride: int = 128  # tokens shared by consecutive windows of one context (Hugging Face's meaning)
    max_query_length: int = 64  # longer questions are cut to this many tokens

    def __post_init__(self):
        if self.max_query_length + 4 > self.max_seq_length:
            raise BenchError(f"max_query_length {self.max_query_length} leaves no room for context in max_seq_length {self.max_seq_length}; lower it or raise --max-seq-length")
        if not 0 <= self.doc_stride < self.max_seq_length - self.max_query_length - 3:
            raise BenchError(f"doc_stride {self.doc_stride} must be below max_seq_length - max_query_length - 3 = {self.max_seq_length - self.max_query_length - 3}; lower --doc-stride")


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


def load_tokenizer(name_or_dir: str):
    """A fast tokenizer (character offsets are required) from a directory or a hub name."""
    from transformers import AutoTokenizer

    known = ("tokenizer.json", "spiece.model", "vocab.txt", "vocab.json", "sentencepiece.bpe.model", "tokenizer.model")
    if os.path.isdir(name_or_dir) and not any(os.path.exists(os.path.join(name_or_dir, f)) for f in known):
        raise BenchError(f"{name_or_dir}: no tokenizer files ({', '.join(known[:3])}, ...); save the tokenizer into the model directory (tokenizer.save_pretrained)")
    try:
        tok = AutoTokenizer.from_pretrained(name_or_dir)
    except (OSError, ValueError) as e:
        where = "directory" if os.path.isdir(name_or_dir) else "name"
        raise BenchError(
            f"cannot load a tokenizer from {where} {name_or_dir!r} ({str(e).splitlines()[0][:200]}); "
            "offline, pass a local model directory holding the tokenizer files; online, a hub name"
        ) from None
    probe = tok("The cat sat on the mat.", add_special_tokens=False)["input_ids"]
    if tok.unk_token_id is not None and probe and all(i == tok.unk_token_id for i in probe):
        # transformers can build a tokenizer with no vocabulary from an incomplete directory; it maps every
        # word to <unk>, and a model would then train on nothing.
        raise BenchError(f"{name_or_dir}: the tokenizer maps every word to {tok.unk_token}; the directory lacks its vocabulary files (tokenizer.json, spiece.model or vocab.txt)")
    if not getattr(tok, "is_fast", False):
        raise BenchError(f"{name_or_dir}: tokenizer is not a fast tokenizer; character offsets need one (install `tokenizers`)")
    return tok


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


def label_answer(ex: Example):
    """The gold answer used as the label: the shortest one that the metric counts (first among equals).

    Training files have one answer per question, so this only matters for dev-style files with several: the
    shortest answer is the one most likely to fit the decoder's `max_answer_length`. Answers that normalise
    to nothing (a lone ".") are ignored by the official metric, so they make useless labels.
    """
    from .metric import normalize_answer

    counted = [a for a in ex.answers if normalize_answer(a.text)] or ex.answers
    return min(counted, key=lambda a: len(a.text))


def build_features(examples: list[Example], tokenizer, cfg: FeatureConfig = FeatureConfig(), batch_size: int = 1000, progress: bool = False) -> Features:
    """Tokenize (question, context) pairs into overlapping windows with labels and context offsets."""
    from .progress import bar as progress_bar

    pad_right = tokenizer.padding_side == "right"
    if not pad_right:
        raise BenchError("tokenizers that pad on the left are not supported (question first, context second)")
    cols: dict[str, list] = {k: [] for k in ("input_ids", "token_type_ids", "offsets", "example_index", "start", "end", "cls")}
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
                a = label_answer(ex)
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
    return Features(
        input_ids=cols["input_ids"],
        token_type_ids=cols["token_type_ids"],
        offsets=cols["offsets"],
        example_index=np.asarray(cols["example_index"], dtype=np.int64),
        start_positions=np.asarray(cols["start"], dtype=np.int64),
        end_positions=np.asarray(cols["end"], dtype=np.int64),
        cls_index=np.asarray(cols["cls"], dtype=np.int64),
    )


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
