"""Loading and saving QA models, batching windows, and running the model over windows.

A model directory is what `save_pretrained` writes (config, weights, tokenizer) plus `qa_config.json`, which
carries the decoding settings tuned on dev (the no-answer threshold above all) so answering uses them.

torch is imported where it is used, not here: an ONNX export answers through this module (`QAConfig`, `infer`)
without PyTorch, and importing torch costs a cold `ask` over a second (issue 26).
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass, fields

import numpy as np

from .errors import BenchError
from .files import QA_CONFIG, read_json, replace_dir, write_failed, write_json_set
from .progress import quiet_libraries
from .decode import DecodeConfig
from .features import FeatureConfig, Features

_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")


@dataclass
class QAConfig:
    """Decoding and windowing settings stored beside a model."""

    # One definition of each default: the decoder's and the windows' own.
    null_threshold: float = DecodeConfig.null_threshold
    max_answer_length: int = DecodeConfig.max_answer_length
    n_best_size: int = DecodeConfig.n_best_size
    max_seq_length: int = FeatureConfig.max_seq_length
    doc_stride: int = FeatureConfig.doc_stride
    max_query_length: int = FeatureConfig.max_query_length
    calibration: dict | None = None  # `calibrate.Calibration` as a dict: what turns null odds into p_correct
    # fp32 against bf16 on the dev questions (`qa.check_bf16`): what `--precision auto` reads before it picks bf16
    bf16_check: dict | None = None

    @property
    def features(self) -> FeatureConfig:
        return FeatureConfig(self.max_seq_length, self.doc_stride, self.max_query_length)

    def save(self, model_dir: str, then: str = "run the command again") -> None:
        """qa_config.json, replaced atomically (the one JSON rule: `files.json_text`)."""
        write_json_set({os.path.join(model_dir, QA_CONFIG): asdict(self)}, then)

    @classmethod
    def load(cls, model_dir: str) -> "QAConfig":
        path = os.path.join(model_dir, QA_CONFIG)
        if not os.path.exists(path):
            return cls()
        raw = read_json(path, "the model's qa_config.json (written by `train`), or remove it to use the defaults")
        if not isinstance(raw, dict):
            raise BenchError(f"{path}: expected a JSON object of settings; remove it to use the defaults")
        known = {f.name: f for f in fields(cls)}
        if raw.get("calibration") is not None:
            from .calibrate import Calibration

            Calibration.from_dict(raw["calibration"], path)  # one line if it is not what calibrate writes
        check = raw.get("bf16_check")
        if check is not None and not (isinstance(check, dict) and isinstance(check.get("passed"), bool)
                                      and all(isinstance(check.get(k), (int, float)) and not isinstance(check.get(k), bool)
                                              for k in ("questions", "same_answers", "f1_fp32", "f1_bf16"))):
            raise BenchError(f"{path}: 'bf16_check' is not what `albert-bench check-precision` writes; run it again, or remove the key")
        for k, v in raw.items():
            if k in ("calibration", "bf16_check"):
                continue
            want = (int, float) if k in known and known[k].type == "float" else int
            if k in known and (isinstance(v, bool) or not isinstance(v, want)):
                raise BenchError(f"{path}: '{k}' should be a number, got {json.dumps(v)[:40]}; fix it or remove the file to use the defaults")
        return cls(**{k: v for k, v in raw.items() if k in known})


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
    _unsplit_spm_user_pieces(tok)
    return tok


def _unsplit_spm_user_pieces(tok) -> None:
    """Tokenize as SentencePiece does, whatever transformers release converted the tokenizer.

    transformers up to 5.24 turned a SentencePiece model's user-defined pieces (ALBERT's `( ) " - . – £ €`) into
    AddedTokens (special ones, once saved and reloaded). An AddedToken cuts the raw text before the pre-tokenizer, so the Metaspace prefix
    restarts after it: "Saint-Clair" became `▁saint - ▁ clair` where SentencePiece says `▁saint - clair` (1,041 of
    the 1,204 dev contexts differed; 5.25 fixed it). A Unigram model emits those pieces whole by itself, so the
    fix is to drop them from the added tokens; tokenizer.json files saved by such a release are repaired the same
    way on load. Tested against SentencePiece itself (tests/test_model.py)."""
    from tokenizers import Tokenizer

    backend = tok.backend_tokenizer
    named = {str(getattr(tok, a)) for a in tok.SPECIAL_TOKENS_ATTRIBUTES if getattr(tok, a, None) is not None}
    in_vocab = backend.get_vocab_size(with_added_tokens=False)
    if type(backend.model).__name__ != "Unigram" or not any(
            i < in_vocab and str(t) not in named for i, t in tok.added_tokens_decoder.items()):
        return  # the usual case, told without serialising the tokenizer (45 ms a load)
    state = json.loads(backend.to_str())
    pieces = {p for p, _ in state["model"]["vocab"]} - named
    added = state.get("added_tokens") or []
    stray = {t.get("content") for t in added if t.get("content") in pieces}
    if not stray:
        return
    # 5.24 also lists them as extra special tokens, which save_pretrained writes and a reload re-adds as special
    tok._extra_special_tokens = [t for t in getattr(tok, "_extra_special_tokens", []) if str(t) not in stray]
    state["added_tokens"] = [t for t in added if t.get("content") not in stray]
    tok._tokenizer = Tokenizer.from_str(json.dumps(state))


def has_weights(model_dir: str) -> bool:
    return any(os.path.exists(os.path.join(model_dir, w)) for w in _WEIGHT_FILES)


def check_model_source(name_or_dir: str, init: str = "pretrained") -> None:
    """Seconds-cheap checks of a model directory or hub name, before anything loads: files present, or the hub
    reachable (one request, 5 s at most, never the hub client's retries) or the name in the local cache."""
    is_dir = os.path.isdir(name_or_dir)
    if not is_dir and (name_or_dir.startswith(("/", ".", "~")) or name_or_dir.count("/") > 1):
        raise BenchError(f"{name_or_dir}: no such model directory; pass a directory with config.json, or a hub name like albert-base-v2")
    if is_dir and not os.path.exists(os.path.join(name_or_dir, "config.json")):
        raise BenchError(f"{name_or_dir}: no config.json; pass a model directory written by save_pretrained (or by `albert-bench train`)")
    if init not in ("pretrained", "random"):
        raise BenchError(f"--init {init!r}: expected 'pretrained' or 'random'")
    if is_dir and init == "pretrained" and not has_weights(name_or_dir):
        raise BenchError(f"{name_or_dir}: no model weights ({', '.join(_WEIGHT_FILES[::2])}); pass a directory with weights, or --init random to train from scratch")
    if not is_dir:
        _hub_check(name_or_dir)


def _hub_check(name: str) -> None:
    from huggingface_hub import try_to_load_from_cache

    from .hub import offline_mode, probe

    if isinstance(try_to_load_from_cache(name, "config.json"), str):
        return  # in the local cache: transformers reads it from there
    if offline_mode():
        raise BenchError(f"{name}: not in the local Hugging Face cache, and HF_HUB_OFFLINE is set; pass a local model directory, or unset HF_HUB_OFFLINE where the hub is reachable")
    status, reason = probe(f"/api/models/{name}")
    if status in (401, 404):
        raise BenchError(f"{name}: no such model on the Hugging Face hub (HTTP {status}); check the name, or pass a local model directory")
    if reason:
        raise BenchError(f"{name}: cannot reach the Hugging Face hub ({reason}) and the model is not in the local cache; "
                         "offline, pass a local model directory")


ATTENTION_DROPOUT_KEYS = ("attention_probs_dropout_prob", "attention_dropout")  # BERT/ALBERT/RoBERTa; DistilBERT and others


def check_positions(config, max_seq_length: int, what: str) -> None:
    """A window longer than the model's position embeddings fails deep in its forward (a tensor size mismatch):
    one line instead, naming `what` sets the length (a flag, or qa_config.json's setting)."""
    positions = getattr(config, "max_position_embeddings", None)
    if isinstance(positions, int) and not isinstance(positions, bool) and max_seq_length > positions:
        raise BenchError(f"{what} {max_seq_length}: the model has {positions} positions (max_position_embeddings in its "
                         f"config.json); pass at most {positions}")


def load_model(name_or_dir: str, init: str = "pretrained", attention_dropout: float | None = None):
    """(model, tokenizer) for question answering from a directory or a hub name.

    `init="random"` builds the architecture from the config with fresh weights (speed runs, tests) and is
    required for a directory that holds a config and tokenizer but no weights. `attention_dropout` replaces the
    config's attention-probability dropout (None: keep it).
    """
    import torch
    from transformers import AutoConfig, AutoModelForQuestionAnswering

    quiet_libraries()
    check_model_source(name_or_dir, init)
    tokenizer = load_tokenizer(name_or_dir)
    try:
        config = AutoConfig.from_pretrained(name_or_dir)
        if attention_dropout is not None:
            keys = [k for k in ATTENTION_DROPOUT_KEYS if hasattr(config, k)]
            if not keys:
                raise BenchError(f"--attention-dropout: {config.model_type} models name no attention dropout in their config; leave the flag out")
            setattr(config, keys[0], attention_dropout)
        if init == "random":
            model = AutoModelForQuestionAnswering.from_config(config)
        else:
            # float32 master weights whatever the checkpoint holds: mixed precision is autocast, not fp16 weights
            model = AutoModelForQuestionAnswering.from_pretrained(name_or_dir, config=config, dtype=torch.float32)
    except (OSError, ValueError) as e:
        raise BenchError(
            f"cannot load model {name_or_dir!r} ({str(e).splitlines()[0][:200]}); "
            "offline, pass a local model directory; a directory without weights needs --init random"
        ) from None
    return model, tokenizer


def fuse_gelu(model) -> int:
    """Swap transformers' tanh GELU written in Python (`gelu_new`, ALBERT's: five elementwise passes over the FFN's
    largest activation) for torch's fused kernel of the same formula (`gelu_pytorch_tanh`), in place; returns how
    many were swapped. The same function, so answers differ by float rounding only; the config keeps its name, so
    a saved model is unchanged (issue 26: fp32 model stage 1.02-1.18x across runs, bf16 1.06x; bench_cpu_answer.py)."""
    from transformers.activations import GELUTanh, NewGELUActivation

    swapped = 0
    for module in model.modules():
        for name, child in module.named_children():
            if type(child) is NewGELUActivation:
                setattr(module, name, GELUTanh())
                swapped += 1
    return swapped


def hold_weights_in_bf16(model) -> None:
    """Every Linear layer's weights cast to bf16 once, in place, for answering under bf16 autocast: autocast casts
    fp32 weights again at every call (and caches them only for tensors that need grad, never at inference), which
    cost 6 % of a bf16 evaluation. Same bf16 values, so the same answers; embeddings and LayerNorm stay fp32."""
    import torch

    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            module.to(torch.bfloat16)


def save_model(model, tokenizer, out_dir: str, qa: QAConfig) -> None:
    """Write a complete model directory atomically: a reader sees the old one or the new one, never half."""
    quiet_libraries()
    import shutil
    import tempfile

    parent = os.path.dirname(os.path.abspath(out_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix=".tmp-")
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        qa.save(tmp)
    except Exception as e:  # noqa: BLE001 - OSError, or safetensors' own error for a full disk
        shutil.rmtree(tmp, ignore_errors=True)
        raise write_failed("the model directory", out_dir, e) from None
    replace_dir(tmp, out_dir)


def uses_token_type_ids(tokenizer) -> bool:
    return "token_type_ids" in tokenizer.model_input_names


def collate(feats: Features, idx, pad_id: int, token_types: bool, labels: bool, multiple: int = 1) -> dict:
    """A batch of windows padded to its own longest one (dynamic padding), not to max_seq_length, as torch tensors.

    `multiple` rounds the width up (compiled models see few distinct shapes)."""
    import torch

    return {k: torch.from_numpy(v) for k, v in collate_arrays(feats, idx, pad_id, token_types, labels, multiple).items()}


def collate_arrays(feats: Features, idx, pad_id: int, token_types: bool, labels: bool, multiple: int = 1) -> dict[str, np.ndarray]:
    """`collate`'s batch as int64 numpy arrays (what ONNX Runtime takes)."""
    width = max(len(feats.input_ids[i]) for i in idx)
    width = -(-width // multiple) * multiple
    ids = np.full((len(idx), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(idx), width), dtype=np.int64)
    tt = np.zeros((len(idx), width), dtype=np.int64)
    for r, i in enumerate(idx):
        n = len(feats.input_ids[i])
        ids[r, :n] = feats.input_ids[i]
        mask[r, :n] = 1
        tt[r, :n] = feats.token_type_ids[i]
    batch = {"input_ids": ids, "attention_mask": mask}
    if token_types:
        batch["token_type_ids"] = tt
    if labels:
        batch["start_positions"] = feats.start_positions[idx]
        batch["end_positions"] = feats.end_positions[idx]
    return batch


def qa_forward(model, batch: dict):
    """(model output, loss or None). The loss is transformers' own: the mean of the start and end cross-entropy,
    taken over every position of the padded batch, as the reference recipe (run_qa.py) trains."""
    out = model(**batch)
    return out, out.loss


def infer(model, tokenizer, feats: Features, batch_size: int = 64, device=None, autocast=None, with_loss: bool = False,
          progress: bool = False, processes=None):
    """Start/end logits for every window (lists of float32 arrays, unpadded) and, with labels, the mean loss.

    Windows are run shortest first so each batch pads little; results come back in the original order.
    `processes` (accelerate's PartialState or Accelerator, several processes): the same batches are dealt round
    the processes (batch b to process b mod n), each runs its own, and process 0 gathers every window's logits and
    every batch's loss — so its results are those of one process to the last bit (same batches, same padding, the
    loss summed in the same order). The other processes get (None, None, None).
    An ONNX Runtime model (`onnx_backend.OnnxModel`) takes and gives numpy arrays: torch is not imported for it.
    """
    if not hasattr(model, "parameters"):
        return _infer(model, tokenizer, feats, batch_size, None, autocast, with_loss, progress, processes)
    import torch

    with torch.inference_mode():
        return _infer(model, tokenizer, feats, batch_size, device or next(model.parameters()).device, autocast, with_loss, progress, processes)


def _infer(model, tokenizer, feats: Features, batch_size: int, device, autocast, with_loss: bool, progress: bool, processes):
    """`infer`'s loop; `device` None: numpy batches (ONNX Runtime)."""
    from .progress import bar

    was_training = model.training
    model.eval()
    order = np.argsort(feats.lengths, kind="stable")
    batches = [order[lo : lo + batch_size] for lo in range(0, len(order), batch_size)]
    rank, world = (processes.process_index, processes.num_processes) if processes is not None else (0, 1)
    tt = uses_token_type_ids(tokenizer)
    ctx = autocast or contextlib.nullcontext
    mine: dict[int, tuple] = {}  # batch number -> (start logits, end logits, loss) of its windows
    for b in bar(range(rank, len(batches), world), desc="eval", unit="batch", disable=not progress, leave=False):
        idx = batches[b]
        if device is None:
            batch = collate_arrays(feats, idx, tokenizer.pad_token_id, tt, with_loss)
        else:
            batch = {k: v.to(device) for k, v in collate(feats, idx, tokenizer.pad_token_id, tt, with_loss).items()}
        with ctx():
            out, loss = qa_forward(model, batch)
        s, e = (x if isinstance(x, np.ndarray) else x.float().cpu().numpy() for x in (out.start_logits, out.end_logits))
        n = [len(feats.input_ids[i]) for i in idx]
        # float(loss) is a device sync; once per batch is fine here
        mine[b] = ([s[r, : n[r]] for r in range(len(idx))], [e[r, : n[r]] for r in range(len(idx))], float(loss) if with_loss else None)
    model.train(was_training)
    if world > 1:
        mine = gather_to_main(mine, processes)
        if rank != 0:
            return None, None, None
    starts: list = [None] * len(feats)
    ends: list = [None] * len(feats)
    loss_sum, n_loss = 0.0, 0
    for b, idx in enumerate(batches):
        s, e, loss = mine[b]
        for r, i in enumerate(idx):
            starts[i], ends[i] = s[r], e[r]
        if with_loss:
            loss_sum += loss * len(idx)
            n_loss += len(idx)
    return starts, ends, (loss_sum / n_loss if n_loss else None)


def gather_to_main(part: dict, processes) -> dict | None:
    """Every process's dict merged on process 0 (None elsewhere): torch.distributed's gather_object, which sends
    each part to process 0 alone, not to every process as accelerate's gather_object does."""
    import torch.distributed as dist

    parts = [None] * processes.num_processes if processes.process_index == 0 else None
    try:
        dist.gather_object(part, parts, dst=0)
    except (RuntimeError, ConnectionError) as e:  # gloo/NCCL: a peer process died or its connection broke
        raise BenchError(f"process {processes.process_index} of {processes.num_processes}: another process stopped during the "
                         f"evaluation ({str(e).splitlines()[0][:160]}); see that process's own error, then run again") from None
    return {k: v for p in parts for k, v in p.items()} if parts is not None else None


def launched_processes():
    """accelerate's PartialState when this process is one of several (`accelerate launch`, torchrun), else None."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    import torch
    from accelerate import PartialState

    return PartialState(cpu=True) if os.environ.get("ACCELERATE_USE_CPU") or not torch.cuda.is_available() else PartialState()
