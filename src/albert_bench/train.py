"""`albert-bench train`: fine-tune a QA model on SQuAD, evaluating with the official metric every epoch.

setup → main → fit, as in litgpt. `TrainConfig` is the schema of the YAML config, of the command-line flags
and of `config.yaml` in the run directory. Hugging Face `accelerate` owns devices, mixed precision and
multi-process: the same code runs on CPU, one GPU, or under `accelerate launch` on many.

Run directory:
    config.yaml            the resolved configuration
    metrics.jsonl          one JSON object per evaluation (epoch, step, loss, the metric's keys)
    tb/                    TensorBoard events (train loss and LR per step, eval metrics per evaluation)
    wandb/, mlruns/        wandb and MLflow runs, with --report-to wandb / mlflow (accelerate's trackers)
    checkpoints/step-N/    model, tokenizer, optimizer, scheduler, RNG states, trainer_state.json (atomic)
    best/                  the best model by dev F1 at its tuned threshold, with qa_config.json (that threshold)
                           and README.md, its model card (huggingface_hub metadata: results, data, settings)
"""

from __future__ import annotations

import contextlib
import glob
import json
import math
import os
import signal
import sys
import time
import warnings
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING

import numpy as np

from .data import SQUAD2_URLS, load_dataset, load_squad, only_questions, parse_dataset_spec
from .card import write_card
from .decode import DecodeConfig, decode, tuned_threshold
from .errors import BenchError, all_problems
from . import rundir, settings, trackers
from .files import atomic_write, check_not_input, check_output, dir_sha256, read_text
from .features import FeatureConfig, cached_features
from .metric import squad_v2_evaluate
from .settings import like, setting
from .model import QAConfig, check_model_source, check_positions, collate, infer, load_model, qa_forward, save_model, uses_token_type_ids

if TYPE_CHECKING:  # annotations only: torch is imported where it runs (see EpochSampler)
    import torch


@dataclass
class TrainConfig:
    model: str = setting("albert-base-v2", "hub name or local directory (config + tokenizer + weights)")
    init: str = setting("pretrained", "'pretrained' weights, or 'random' to train from scratch (speed runs, tests)", choices=("pretrained", "random"))
    train_file: str | None = setting(None, "data to train on (path or URL): SQuAD JSON, or datasets-style rows as .jsonl, .json or .parquet")
    dev_file: str | None = setting(None, "data to evaluate on every epoch (path or URL), in the same layouts")
    dataset: str | None = setting(None, "a dataset loaded with the `datasets` library, NAME[:CONFIG] (e.g. squad_v2; cached; or a local folder): "
                             "trains on its 'train' split, evaluates on 'validation'; --train-file/--dev-file replace either")
    data_dir: str | None = setting(None, "directory for the official SQuAD 2.0 train/dev files; downloaded there when absent")
    epochs: int = setting(2, "passes over the training data", lo=1, hi=100_000)
    lr: float = setting(3e-5, "peak learning rate (AdamW)", gt=0, hi=10)
    batch_size: int = setting(32, "windows per device per forward pass", lo=1, hi=65_536)
    grad_accum: int = setting(1, "forward passes per optimizer step; effective batch = batch-size × grad-accum × processes", lo=1, hi=65_536)
    warmup: float = setting(0.1, "share of steps with linear warmup, then linear decay to 0", lo=0, hi=1)
    weight_decay: float = setting(0.01, "AdamW weight decay (not on biases and LayerNorm)", lo=0, hi=100)
    max_grad_norm: float = setting(1.0, "gradient clipping norm", gt=0)
    max_seq_length: int = like(FeatureConfig, "max_seq_length")
    doc_stride: int = like(FeatureConfig, "doc_stride")
    max_query_length: int = like(FeatureConfig, "max_query_length")
    max_answer_length: int = setting(DecodeConfig.max_answer_length, "longest answer in tokens when decoding", lo=1, hi=65_536)
    label_answer: str = like(FeatureConfig, "label_rule")
    seed: int = setting(42, "seed for weights, data order and dropout", lo=0, hi=2**32 - 1)
    run_dir: str | None = setting(None, "where everything of this run goes (default runs/<timestamp>)")
    resume: bool = setting(False, "continue from the newest checkpoint in --run-dir (default: the newest run under runs/)")
    overwrite: bool = setting(False, "start anew in a --run-dir that holds a run: its metrics.jsonl, run_info.json, checkpoints/, best/ "
                         "and tracker folders (tb/, wandb/, mlruns/) are deleted first (without it such a directory is refused)")
    eval_steps: int = setting(0, "also evaluate every N optimizer steps (0: only at the end of each epoch)", lo=0)
    eval_from_epoch: int = setting(1, "evaluate from this epoch on (1: every epoch); earlier epochs only train, which on CPU saves minutes per "
                                      "epoch (a dev evaluation of 6,000 questions takes ~2 min on 2 cores); the run's end is always evaluated", lo=1, hi=100_000)
    save_steps: int = setting(500, "checkpoint every N optimizer steps (and at the end of each epoch)", lo=0)
    keep_checkpoints: int = setting(2, "checkpoints kept (oldest deleted first)", lo=1, hi=10_000)
    eval_batch_size: int = setting(64, "windows per forward pass when evaluating", lo=1, hi=65_536)
    mixed_precision: str = setting("auto", "'auto' (bf16 where the device computes it natively: a GPU that supports it, a CPU with AVX512-BF16 "
                                                "or AMX; else fp16 on GPU, fp32 on CPU), 'no' (fp32), 'fp16' or 'bf16'", choices=("auto", "no", "fp16", "bf16"))
    report_to: str = setting("tensorboard", "comma list of trackers (accelerate's): 'tensorboard' (RUN/tb), 'wandb' (RUN/wandb; WANDB_MODE=offline works), "
                        "'mlflow' (RUN/mlruns, or MLFLOW_TRACKING_URI), or 'none'; wandb and mlflow are extras: pip install 'albert-bench[wandb]'")
    max_steps: int = setting(0, "stop after this many optimizer steps (0: no limit; for speed runs)", lo=0)
    max_train_examples: int = setting(0, "use only the first N training questions (0: all)", lo=0)
    max_eval_examples: int = setting(0, "evaluate on only the first N dev questions (0: all)", lo=0)
    attention_dropout: float | None = setting(None, "dropout on attention probabilities while training (default: the model's own: 0.1 for BERT and MiniLM, 0 for "
                                               "ALBERT). 0 lets PyTorch run its fused attention kernel on CPU instead of the unfused path with a random "
                                               "mask per attention score: MiniLM-L6 trained 1.3x faster in fp32, and 2.1x with --mixed-precision bf16 on a "
                                               "CPU with AVX512-BF16 (benchmarks/RESULTS.md; its effect on F1 is not measured yet)", lo=0, hi=1)
    null_window_keep: float = setting(1.0, "share of the training windows whose label is no-answer to train on, drawn anew each epoch (Alberti et al. "
                                  "2019 downsample them): fewer steps and less pull towards no-answer; every window with an answer stays", gt=0, hi=1)
    group_by_length: bool = setting(False, "windows of similar length share a batch: little padding, faster steps; can slow convergence (a small synthetic set reached 82 instead of 99 EM in 8 epochs)")
    compile: bool = setting(False, "torch.compile the model (GPU; the first steps of each batch width are slow)")
    no_feature_cache: bool = setting(False, "do not read or write tokenized features in the cache (ALBERT_BENCH_CACHE/features)")
    config: str | None = setting(None, "YAML file with any of these settings; flags given on the command line win")


# ---------------------------------------------------------------- config


def add_arguments(p) -> None:
    settings.add_flags(p, TrainConfig, suppress=True)  # absent unless given: the YAML config fills the rest


# How long a process waits for the others at a barrier: torch's default for gloo. Nothing here makes a process
# wait through a whole evaluation any more (it was 3 hours while process 0 evaluated alone).
PROCESS_GROUP_TIMEOUT_MINUTES = 30
CONFIG_MAX_BYTES = 1 << 20  # a YAML config is a few hundred bytes; a bigger file is a mistake, not a config


def read_yaml_config(path: str) -> dict:
    """A YAML config read strictly: one mapping of string keys, none twice, no aliases (so no billion laughs),
    at most 1 MiB. Any problem is one line naming the file, with a bounded excerpt."""
    import yaml

    class Strict(yaml.SafeLoader):
        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                raise yaml.MarkedYAMLError(problem="an alias (*name) is not allowed in a config file; write the value out",
                                           problem_mark=self.peek_event().start_mark)
            return super().compose_node(parent, index)

        def construct_mapping(self, node, deep=False):
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if not isinstance(key, str):
                    raise yaml.MarkedYAMLError(problem=f"the key {str(key)[:40]!r} is not a setting name (a string)", problem_mark=key_node.start_mark)
                name = key.replace("-", "_")  # max-steps and max_steps are one setting
                if name in seen:
                    raise yaml.MarkedYAMLError(problem=f"the setting {name[:40]!r} is given twice", problem_mark=key_node.start_mark)
                seen.add(name)
            return super().construct_mapping(node, deep)

    if os.path.isfile(path) and os.path.getsize(path) > CONFIG_MAX_BYTES:
        raise BenchError(f"{path}: {os.path.getsize(path):,} bytes is not a config file (at most {CONFIG_MAX_BYTES:,}); pass the YAML file of settings")
    try:
        values = yaml.load(read_text(path, "a YAML config file (--config)"), Loader=Strict)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        what = " ".join(str(getattr(e, "problem", None) or e).split())[:160]
        raise BenchError(f"{path}: not a valid config{where} ({what}); see `albert-bench train --help` for the settings") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise BenchError(f"{path}: expected a mapping of setting: value, got {type(values).__name__}")
    return values


def resolve_config(args: dict) -> TrainConfig:
    """Defaults, then the YAML file, then the flags given on the command line; every setting checked (type,
    finiteness, range) before anything is read, written or deleted."""
    known = {f.name: f for f in fields(TrainConfig)}
    values: dict = {}
    if args.get("config"):
        raw = read_yaml_config(args["config"])
        values = {k.replace("-", "_"): v for k, v in raw.items()}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise BenchError(f"{args['config']}: unknown setting(s) {', '.join(u[:40] for u in unknown[:5])}; see `albert-bench train --help`")
        if values.get("mixed_precision") is False:  # YAML reads a bare `no` as false
            values["mixed_precision"] = "no"
        for k, v in values.items():  # YAML reads 3e-5 as a string; only number settings take a number from text
            if isinstance(v, str) and settings.field_type(known[k])[0] in (int, float):
                try:
                    values[k] = int(v) if v.strip().lstrip("-").isdigit() else float(v)
                except ValueError:
                    pass
        if problems := settings.problems(TrainConfig, values, f" (in {args['config']})"):
            raise BenchError(f"{args['config']}: {'; '.join(problems)}")
    values.update({k: v for k, v in args.items() if k in known})
    given = dict(values)  # what this command line (and its --config) asked for
    if problems := settings.problems(TrainConfig, values):
        raise BenchError("; ".join(problems))
    cfg = TrainConfig(**values)
    trackers.report_targets(cfg.report_to)
    if cfg.resume and cfg.overwrite:
        raise BenchError("--resume continues the run in --run-dir and --overwrite deletes it: give one of them")
    if cfg.resume and not cfg.run_dir:
        cfg.run_dir = _newest("runs/*")
        if not cfg.run_dir:
            raise BenchError("--resume: no run under runs/; pass --run-dir DIR of the run to continue")
    if cfg.resume and not rundir.checkpoints(cfg.run_dir):
        raise BenchError(f"--resume: no checkpoint in {cfg.run_dir}/checkpoints; start a new run without --resume")
    if cfg.resume:
        # The saved config wins; a setting that would change the run is refused, a few may change (RESUME_MAY_CHANGE).
        saved = saved_config(cfg.run_dir)
        clash = [f"{k} (saved {saved.get(k)!r}, given {v!r})" for k, v in given.items()
                 if k not in RESUME_MAY_CHANGE and not _same_setting(k, saved.get(k), v)]
        if clash:
            raise BenchError(f"--resume would change the run: {'; '.join(clash)}; resume without them (only "
                             f"{', '.join('--' + k.replace('_', '-') for k in sorted(RESUME_MAY_CHANGE - {'resume', 'run_dir', 'config', 'overwrite'}))} "
                             "may change), start anew there with --overwrite instead of --resume (deletes the run), or start a new run in another --run-dir")
        cfg = TrainConfig(**{**saved, **{k: v for k, v in given.items() if k in RESUME_MAY_CHANGE}, "resume": True, "overwrite": False, "run_dir": cfg.run_dir})
    if cfg.eval_from_epoch > cfg.epochs:
        raise BenchError(f"--eval-from-epoch {cfg.eval_from_epoch} is after the last epoch (--epochs {cfg.epochs}); give at most {cfg.epochs} "
                         "(the run's end is evaluated in any case)")
    FeatureConfig(cfg.max_seq_length, cfg.doc_stride, cfg.max_query_length, cfg.label_answer)  # the windows fit: said now, not after the model loads
    return cfg


# ---------------------------------------------------------------- setup


def saved_config(run_dir: str) -> dict:
    """The run's saved settings; one added to `TrainConfig` since the run was saved reads as its default (the run had it)."""
    saved = rundir.read(run_dir, rundir.CONFIG, need="start a new run without --resume")
    if set(saved) - {f.name for f in fields(TrainConfig)}:
        raise BenchError(f"{rundir.path(run_dir, rundir.CONFIG)}: not a config written by this version of `train`; start a new run")
    return {**asdict(TrainConfig()), **saved}


# Settings a resumed run may change: to extend it, and how often it evaluates, saves and reports.
RESUME_MAY_CHANGE = {"epochs", "max_steps", "eval_steps", "eval_from_epoch", "save_steps", "keep_checkpoints", "eval_batch_size", "report_to",
                     "no_feature_cache", "resume", "overwrite", "run_dir", "config"}


def _same_setting(name: str, saved, given) -> bool:
    if saved == given:
        return True
    if name in ("train_file", "dev_file", "data_dir", "model") and isinstance(saved, str) and isinstance(given, str):
        return os.path.exists(given) and os.path.realpath(saved) == os.path.realpath(given)  # the same file, named otherwise
    return False


def _newest(pattern: str) -> str | None:
    found = sorted(glob.glob(pattern))
    return found[-1] if found else None


_OFFLINE_HINT = ("; offline, train on a local SQuAD file split in two (`albert-bench data split dev-v2.0.json --out DIR`, "
                 "then --train-file DIR/train.json --dev-file DIR/dev.json) or follow the README's offline quickstart")


def data_file(cfg: TrainConfig, which: int) -> str | None:
    """The train (0) or dev (1) file: given, None where --dataset supplies that split, or the official one under
    --data-dir (downloaded when absent)."""
    given = (cfg.train_file, cfg.dev_file)[which]
    if cfg.dataset or given:
        return given
    if not cfg.data_dir:
        raise BenchError("no data: pass --train-file and --dev-file, --dataset NAME (e.g. squad_v2), or --data-dir to use (and download) the official SQuAD 2.0 files")
    from .data import resolve

    split, flag = (("train", "--train-file"), ("dev", "--dev-file"))[which]
    try:
        return resolve(SQUAD2_URLS[split], cfg.data_dir, flag=flag)
    except BenchError as e:
        said_for_train = which == 1 and not cfg.train_file  # the train file's line already says it
        raise BenchError(f"{e}{'' if said_for_train else _OFFLINE_HINT}") from None


def preflight(cfg: TrainConfig):
    """Every input checked before any long work, every problem reported at once: (train data, dev data) read."""
    if cfg.dataset and cfg.dataset.count(":") > 1:
        raise BenchError(f"--dataset {cfg.dataset}: train takes NAME[:CONFIG] (it uses the 'train' and 'validation' splits); "
                         "pass other splits as files with --train-file/--dev-file (`albert-bench data convert --dataset NAME:CONFIG:SPLIT --out F.jsonl`)")

    def data(which: int):
        def check():
            flag = ("--train-file", "--dev-file")[which]
            file = data_file(cfg, which)
            if file:
                return load_squad(file, flag=flag)
            name, config, _ = parse_dataset_spec(cfg.dataset)
            return load_dataset(f"{name}:{config or ''}:{('train', 'validation')[which]}")
        return check

    train_sq, dev_sq, _, _, _ = all_problems(
        data(0), data(1), lambda: check_model_source(cfg.model, cfg.init),
        lambda: check_output(cfg.run_dir, "--run-dir") if cfg.run_dir else None,
        lambda: check_not_input(cfg.run_dir, "--run-dir", {"--train-file": cfg.train_file, "--dev-file": cfg.dev_file, "--model": cfg.model})
        if cfg.run_dir else None)
    return train_sq, dev_sq


def setup(cfg: TrainConfig):
    """Check every input before any long work starts (a bad file fails in seconds, not after tokenizing), then
    the accelerator, the model and the run directory, in that order."""
    from accelerate.utils import set_seed

    train_sq, dev_sq = preflight(cfg)
    if cfg.resume:
        same_data(cfg, train_sq, dev_sq)
    acc, mp = _setup_accelerator(cfg)
    if cfg.init == "random" and acc.is_main_process:
        warnings.warn(f"--init random: {cfg.model} starts from RANDOM weights; its answers mean nothing until trained. Use for speed runs and tests.", stacklevel=2)
    set_seed(cfg.seed)  # before the model is built: random init and the head's init depend on it
    model, tokenizer = load_model(cfg.model, cfg.init, cfg.attention_dropout)
    check_positions(model.config, cfg.max_seq_length, "--max-seq-length")
    _setup_run_dir(cfg, acc)
    if acc.is_main_process:
        _write_run_record(cfg, acc, model, train_sq, dev_sq, mp)
    return cfg, acc, model, tokenizer, train_sq, dev_sq


PRECISION_NAMES = {"no": "fp32", "fp16": "fp16", "bf16": "bf16"}


def resolve_mixed_precision(asked: str, cuda: bool, cuda_bf16: bool, cpu_bf16: bool, started: bool = False) -> tuple[str, str]:
    """(what a run trains in, why). `auto`: bf16 where the device computes it natively (a GPU that supports it; a CPU with
    AVX512-BF16 or AMX), else fp16 on a GPU and fp32 ("no") on a CPU. On such a CPU bf16 won at the same budget:
    MiniLM-L6 reached 58.24 tuned F1 in 40 minutes of bf16 against fp32's 55.65 in 37 (bench_cpu_recipe.py, issue
    29), and its answers passed the bf16 check. On a CPU without it bf16 is emulated and slower than fp32
    (bench_train_cpu.py), so asking for it there warns."""
    if asked == "auto":
        if cuda:
            return ("bf16", "auto: this GPU computes bf16 natively") if cuda_bf16 else ("fp16", "auto: this GPU has no native bf16")
        return (("bf16", "auto: this CPU computes bf16 natively (AVX512-BF16 or AMX)") if cpu_bf16 else
                ("no", "auto: this CPU has no native bf16 (AVX512-BF16 or AMX), where fp32 trains faster"))
    if asked == "fp16" and not cuda:  # accelerate would train in fp32 and record fp16
        raise BenchError(("this run started in fp16 on a GPU: resume it on a GPU" if started else "--mixed-precision fp16 needs a GPU")
                         + "; on a CPU train with --mixed-precision auto, no (fp32) or bf16")
    if asked == "bf16" and not cuda and not cpu_bf16:
        warnings.warn("this CPU has no native bf16 (AVX512-BF16 or AMX): training in bf16 is emulated here, about 25x slower than fp32 "
                      "(bench_train_cpu.py); a run with --mixed-precision auto (or no) trains in fp32", stacklevel=2)
    return asked, "asked for"


def _setup_accelerator(cfg: TrainConfig):
    """accelerate's Accelerator with the precision `cfg` resolves to, and one run directory for all processes."""
    from datetime import timedelta

    import torch
    from accelerate import Accelerator
    from accelerate.utils import InitProcessGroupKwargs, broadcast_object_list

    from .qa import cpu_has_bf16

    cuda = torch.cuda.is_available()
    # A resumed run goes on in the precision it started in, whatever `auto` picks on this machine (one with or
    # without native bf16 may continue a run another began): a switch would change the run's arithmetic midway.
    started_in = cfg.resume and (rundir.read(cfg.run_dir, rundir.RUN_INFO, lenient=True) or {}).get("mixed_precision")
    started_in = started_in if started_in in ("no", "fp16", "bf16") else None
    mp, why = resolve_mixed_precision(started_in or cfg.mixed_precision, cuda, cuda and torch.cuda.is_bf16_supported(including_emulation=False),
                                      not cuda and cpu_has_bf16(), started=bool(started_in))
    why = "the precision this run started in" if started_in else why
    # accelerate keeps one precision per process: a second run in this process (the Python API, the tests) in
    # another precision would be refused, so its state is made anew (the distributed state, PartialState, is kept).
    from accelerate.state import AcceleratorState

    if AcceleratorState._shared_state and AcceleratorState().mixed_precision != mp:
        AcceleratorState._reset_state()
    # Every process evaluates its share of the dev set (`evaluate_now`): the others wait only while process 0
    # decodes, scores and saves best/ — minutes at most, so the process group keeps its usual timeout.
    acc = Accelerator(mixed_precision=mp, cpu=not torch.cuda.is_available(),
                      kwargs_handlers=[InitProcessGroupKwargs(timeout=timedelta(minutes=PROCESS_GROUP_TIMEOUT_MINUTES))])
    if acc.is_main_process:
        print(f"training in {PRECISION_NAMES[mp]} ({why})", file=sys.stderr)
    # One run directory for all processes, whatever their clocks say.
    cfg.run_dir = broadcast_object_list([cfg.run_dir or os.path.join("runs", time.strftime("%Y%m%d-%H%M%S"))])[0]
    return acc, mp


def _setup_run_dir(cfg: TrainConfig, acc) -> None:
    """Lock the run directory and apply the rules for one that holds a run (--resume, --overwrite, or refuse),
    before anything is written into it. A problem stops every process with the same line."""
    from accelerate.utils import broadcast_object_list

    problem = None
    if acc.is_main_process:
        try:
            # Before the lock (which leaves its file): a folder of the user's, or another model's, whose config.json,
            # config.yaml or run_info.json a new run would write over. An earlier run's files have their rules below.
            if not cfg.resume and not rundir.earlier_run(cfg.run_dir) and (theirs := rundir.foreign(cfg.run_dir)):
                raise BenchError(f"--run-dir {cfg.run_dir} holds {', '.join(theirs)}, which `train` did not write there "
                                 f"(no {rundir.MARK}); give a new or empty --run-dir, or move them away")
            rundir.lock(cfg.run_dir)
            # Under the lock: a new run into a directory that holds one would append to its metrics log and
            # replace its best/, and the mix would read as one run.
            found = [] if cfg.resume else rundir.earlier_run(cfg.run_dir)
            written_by_train = rundir.is_trains(cfg.run_dir)
            if found and not cfg.overwrite:
                problem = (f"--run-dir {cfg.run_dir} already holds a run ({', '.join(found)}): continue it with --resume, "
                           "start anew there with --overwrite (deletes it), or give a new --run-dir")
            elif found and not written_by_train:  # a folder of the user's: --overwrite deletes only what train wrote
                problem = (f"--overwrite: {cfg.run_dir} holds {', '.join(found)} but not the mark of a folder `train` created "
                           f"({rundir.MARK}), so it is not cleared; delete what you mean to yourself, or give a new --run-dir")
            elif cfg.overwrite and written_by_train:
                rundir.clear(cfg.run_dir)
        except BenchError as e:
            problem = str(e)
        except OSError as e:  # the folder cannot be made or locked: one line here, and every process stops below
            problem = f"--run-dir {cfg.run_dir}: {e.strerror or e}; fix its permissions or give another --run-dir"
    if problem := broadcast_object_list([problem])[0]:
        raise BenchError(problem)


def _write_run_record(cfg: TrainConfig, acc, model, train_sq, dev_sq, mp: str) -> None:
    """config.json/.yaml and run_info.json: what the run is (settings, model, data and their hashes, hardware)."""
    changes = {}
    if cfg.resume:
        saved = saved_config(cfg.run_dir)
        changes = {k: [saved.get(k), v] for k, v in asdict(cfg).items() if k not in ("resume", "run_dir", "config") and saved.get(k) != v}
    again = "continue with --resume" if cfg.resume else "run the command again"
    rundir.write(cfg.run_dir, rundir.CONFIG, obj=asdict(cfg), then=again)
    import yaml

    with atomic_write(rundir.path(cfg.run_dir, rundir.CONFIG_YAML), what="the run's config", then=again) as fh:
        yaml.safe_dump({**asdict(cfg), "train_file_resolved": train_sq.path, "dev_file_resolved": dev_sq.path, "mixed_precision_resolved": mp}, fh, sort_keys=False)
    # A new run starts its own record: run_info.json left by one that stopped before its first checkpoint is not its.
    info = (cfg.resume and rundir.read(cfg.run_dir, rundir.RUN_INFO)) or {
        "model": cfg.model, "model_sha256": model_sha256(cfg), "init": cfg.init, "model_type": model.config.model_type,
        "train_file": _where(train_sq), "train_sha256": train_sq.sha256,
        "dev_file": _where(dev_sq), "dev_sha256": dev_sq.sha256, "sessions": []}
    info.update(hardware=trackers.describe_hardware(), num_processes=acc.num_processes, mixed_precision=mp)
    if changes:  # settings a resume changed (RESUME_MAY_CHANGE), for whoever reads the run later
        info.setdefault("resumed_with_changes", []).append({"at": time.strftime("%Y-%m-%dT%H:%M:%S"), "changes": changes})
    rundir.write(cfg.run_dir, rundir.RUN_INFO, obj=info, then=again)


def model_sha256(cfg: TrainConfig) -> str | None:
    """The starting model's fingerprint (its directory's files), or None for a hub name (its cache decides)."""
    return dir_sha256(cfg.model) if os.path.isdir(cfg.model) else None


def same_data(cfg: TrainConfig, train_sq, dev_sq) -> None:
    """A resume continues the run it names: the data it started with (a file changed under the same path would
    train on other data and compare dev scores of two sets) and the model it started from. A change is one line,
    before anything is written."""
    info = rundir.read(cfg.run_dir, rundir.RUN_INFO, lenient=True) or {}
    changed = [f"the {what} file {sq.path} (sha256 {info[key][:12]}… when the run started, {sq.sha256[:12]}… now)"
               for what, key, sq in (("train", "train_sha256", train_sq), ("dev", "dev_sha256", dev_sq))
               if info.get(key) and sq.sha256 and info[key] != sq.sha256]
    if info.get("model_sha256") and (now := model_sha256(cfg)) and now != info["model_sha256"]:
        changed.append(f"the model {cfg.model} (sha256 {info['model_sha256'][:12]}… when the run started, {now[:12]}… now)")
    if changed:
        raise BenchError(f"--resume: {' and '.join(changed)} changed; put back the files the run used, start anew with "
                         f"--overwrite instead of --resume, or give a new --run-dir")


def _where(sq) -> str:
    """Where data came from, for run_info: a file's absolute path, or the `--dataset` spec."""
    return sq.path if sq.fingerprint else os.path.abspath(sq.path)


# ---------------------------------------------------------------- main / fit


class EpochSampler:
    """A permutation that depends only on (seed, epoch): a resumed run sees the same order as an unbroken one.
    (A plain iterable, as DataLoader's `sampler` may be: this module is imported to build every command's
    `--help`, and importing torch there would cost `ask` over a second.)

    With `lengths`, windows of similar length share a batch (dynamic padding then pads little): the shuffled
    windows are cut into groups of 50 batches, each group sorted by length and cut into batches, and the batches
    of a group shuffled again, so a batch is random in content but uniform in length. Deliberately no
    `set_epoch`: accelerate would call it with its own count of iterations, which restarts at 0 after a resume.

    With `null` (which windows are labelled no-answer) and `null_keep` < 1, each epoch trains on that share of
    them, drawn from (seed, epoch) too, and on every other window: the same number of windows every epoch.
    """

    def __init__(self, n: int, seed: int, lengths: np.ndarray | None = None, batch_size: int = 1, group: int = 50,
                 null: np.ndarray | None = None, null_keep: float = 1.0):
        self.n, self.seed, self.epoch = n, seed, 0
        self.lengths, self.batch_size, self.group = lengths, batch_size, group
        self.null_index = np.flatnonzero(null) if null is not None and null_keep < 1 else np.zeros(0, dtype=np.int64)
        self.null_kept = max(1, round(null_keep * len(self.null_index))) if len(self.null_index) else 0

    def use_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(self.n)
        if len(self.null_index):  # its own stream: with every window kept, the order is what it always was
            dropped = np.random.default_rng([self.seed, self.epoch, 1]).permutation(self.null_index)[self.null_kept :]
            order = order[~np.isin(order, dropped)]
        if self.lengths is None or self.batch_size <= 1:
            return iter(order.tolist())
        out, size = [], self.batch_size * self.group
        for lo in range(0, len(order), size):
            chunk = order[lo : lo + size]
            chunk = chunk[np.argsort(-self.lengths[chunk], kind="stable")]
            batches = [chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
            # A short last batch stays last, so that every other batch is full.
            full = [b for b in batches if len(b) == self.batch_size]
            rest = [b for b in batches if len(b) < self.batch_size]
            out.extend(full[i] for i in rng.permutation(len(full)))
            out.extend(rest)
        return iter(np.concatenate(out).tolist() if out else [])

    def __len__(self) -> int:
        return self.n - len(self.null_index) + self.null_kept


class _Stop:
    """Ctrl-C / SIGTERM ask for a checkpoint at the next step boundary instead of killing the step midway."""

    def __init__(self):
        self.signal = None

    def __call__(self, signum, _frame):
        if self.signal is not None:  # a second Ctrl-C means now
            raise KeyboardInterrupt
        self.signal = signum


def main(cfg: TrainConfig, resume_from: str | None = None) -> dict:
    """setup → data → recipe → fit."""
    cfg, acc, model, tokenizer, train_sq, dev_sq = setup(cfg)
    train_feats, dev = _setup_data(cfg, acc, tokenizer, train_sq, dev_sq)
    return fit(_setup_recipe(cfg, acc, model, tokenizer, train_feats, dev), resume_from)


@dataclass
class DevSet:
    """What every evaluation scores: the dev questions, their windows, and their SQuAD articles (for the metric)."""

    examples: list
    feats: object
    data: list


def _setup_data(cfg: TrainConfig, acc, tokenizer, train_sq, dev_sq):
    """The training windows and the dev set, cut to --max-*-examples, tokenized once and cached."""
    fcfg = FeatureConfig(cfg.max_seq_length, cfg.doc_stride, cfg.max_query_length, cfg.label_answer)
    train_ex = train_sq.examples[: cfg.max_train_examples or None]
    dev_ex = dev_sq.examples[: cfg.max_eval_examples or None]
    for name, sq, ex in (("--train-file", train_sq, train_ex), ("--dev-file", dev_sq, dev_ex)):
        if not ex:
            raise BenchError(f"{sq.path}: no questions to use ({name}); pass a SQuAD file with questions")
    if train_sq.unfound:
        if acc.is_main_process:
            warnings.warn(f"{len(train_sq.unfound)} training answer(s) are not in their context; those questions train as unanswerable only if they have no other answer (first: {train_sq.unfound[0][0]})", stacklevel=2)
    with acc.main_process_first():
        # The main process builds and caches the features first; the others then read them from the cache.
        cache = "" if cfg.no_feature_cache else None
        train_feats, dev_feats = (
            cached_features(ex, tokenizer, fcfg, cache_dir=cache, progress=acc.is_local_main_process, log=acc.print)
            for ex in (train_ex, dev_ex)
        )
    dev_ids = {e.id for e in dev_ex}
    dev_data = only_questions(dev_sq.data, dev_ids)
    return train_feats, DevSet(dev_ex, dev_feats, dev_data)


def make_loader(n: int, batch_size: int, seed: int, collate_fn, lengths: np.ndarray | None = None,
                null: np.ndarray | None = None, null_keep: float = 1.0) -> tuple[torch.utils.data.DataLoader, EpochSampler]:
    """Batches of window indices in a (seed, epoch) order; `accelerate.prepare` shards them across processes."""
    import torch

    sampler = EpochSampler(n, seed, lengths, batch_size, null=null, null_keep=null_keep)
    loader = torch.utils.data.DataLoader(
        range(n), batch_size=batch_size, sampler=sampler, collate_fn=collate_fn,
        # Its own generator: starting an iterator draws a seed, which must not come from the global RNG that
        # dropout uses, or a resumed run's dropout would drift from an unbroken run's.
        generator=torch.Generator().manual_seed(seed),
    )
    return loader, sampler


def _optimizer(model, cfg):
    import torch

    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim < 2 or "LayerNorm" in name or "layer_norm" in name else decay).append(p)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    # Fused, as Trainer's default: on CPU too (torch >= 2.4), where it is 5x faster than the per-parameter loop
    # (MiniLM-L6: 10 ms a step, not 54-64).
    return torch.optim.AdamW(groups, lr=cfg.lr, fused=True)


def evaluate_now(model, tokenizer, dev: DevSet, cfg, acc) -> tuple[dict, object] | tuple[None, None]:
    """Every process runs its share of the dev windows (`model.infer`); process 0 decodes and scores them, with
    the results of one process to the last bit. The other processes get (None, None)."""
    starts, ends, loss = infer(acc.unwrap_model(model), tokenizer, dev.feats, cfg.eval_batch_size, acc.device, acc.autocast, with_loss=True,
                               progress=acc.is_local_main_process, processes=acc if acc.num_processes > 1 else None)
    if starts is None:
        return None, None
    dec = decode(dev.examples, dev.feats, starts, ends, DecodeConfig(max_answer_length=cfg.max_answer_length))
    # Score the best span of every question with null_odds as na_probs: EM/F1 at threshold 0 and a fair
    # search over all thresholds (thresholded predictions would hide the spans the search must weigh).
    m = squad_v2_evaluate(dev.data, dec.best_text, dec.null_odds, na_prob_thresh=0.0)
    return {"eval_loss": loss, **m}, dec


@dataclass
class TrainState:
    """Where a run stands. The first four fields are saved in each checkpoint's trainer_state.json; the others
    are for the log and last only as long as the process."""

    step: int = 0  # optimizer steps taken
    epoch: int = 0  # epochs finished
    batch_in_epoch: int = 0  # batches of the current epoch already trained on
    best_f1: float = -1.0  # the best dev F1 (at its tuned threshold) so far: what best/ holds
    batches_per_epoch: int = 0
    last_loss: float | None = None
    windows_per_s: float | None = None
    last_eval_step: int = -1
    session_started: float = 0.0  # time.time() when this process's session began: its "started" stamp
    session_clock: float = 0.0  # time.monotonic() at that moment: its seconds (a VM's wall clock can be stepped mid-run)

    SAVED = ("step", "epoch", "batch_in_epoch", "best_f1")

    def saved(self) -> dict:
        return {k: getattr(self, k) for k in self.SAVED}


class Throughput:
    """Training windows per second, counting only time spent training (restarted after evaluations and saves)."""

    def __init__(self, processes: int):
        self.processes = processes
        self.restart()

    def restart(self) -> None:
        self.windows, self.busy, self.mark = 0, 0.0, time.perf_counter()

    def rate(self) -> float:
        now = time.perf_counter()
        self.busy, self.mark = self.busy + now - self.mark, now
        return self.windows * self.processes / max(self.busy, 1e-9)


@dataclass
class Recipe:
    """One training session's working parts, built by `_setup_recipe` and run by `fit`: the recipe's state as one
    typed object (torchtune's way) instead of loose parameters handed from step to step."""

    cfg: TrainConfig
    acc: object  # accelerate.Accelerator
    model: torch.nn.Module  # prepared by accelerate; checkpoints, evaluation and saving use it
    forward: object  # `model`, or its torch.compile'd twin (the same parameters): what the training step calls
    tokenizer: object
    optimizer: torch.optim.Optimizer
    scheduler: object
    loader: torch.utils.data.DataLoader
    sampler: EpochSampler
    dev: DevSet
    total_steps: int
    state: TrainState
    clock: Throughput


def _setup_recipe(cfg: TrainConfig, acc, model, tokenizer, train_feats, dev: DevSet) -> Recipe:
    """Loader, optimizer and schedule, prepared by accelerate for however many processes run."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    started, clock = time.time(), time.monotonic()
    tt = uses_token_type_ids(tokenizer)
    # Under torch.compile every new batch width is a new graph: widths are rounded up to a multiple of 64.
    multiple = 64 if cfg.compile else 1
    # One loader batch per optimizer step (batch-size × grad-accum windows, padded to one width), split into
    # grad-accum forward passes in `train_step`: the padding, and so the loss, is what one big batch would have.
    loader, sampler = make_loader(len(train_feats), cfg.batch_size * cfg.grad_accum, cfg.seed,
                                  lambda idx: collate(train_feats, np.asarray(idx), tokenizer.pad_token_id, tt, labels=True, multiple=multiple),
                                  lengths=train_feats.lengths if cfg.group_by_length else None,
                                  null=train_feats.start_positions == train_feats.cls_index, null_keep=cfg.null_window_keep)
    optimizer = _optimizer(model, cfg)
    steps_per_epoch = math.ceil(len(loader) / acc.num_processes)
    total = steps_per_epoch * cfg.epochs if not cfg.max_steps else min(cfg.max_steps, steps_per_epoch * cfg.epochs)
    # accelerate steps a prepared scheduler once per process per optimizer step, hence the factor.
    scheduler = get_linear_schedule_with_warmup(optimizer, int(cfg.warmup * total) * acc.num_processes, total * acc.num_processes)
    model, optimizer, loader, scheduler = acc.prepare(model, optimizer, loader, scheduler)
    forward = torch.compile(model) if cfg.compile else model
    return Recipe(cfg, acc, model, forward, tokenizer, optimizer, scheduler, loader, sampler, dev, total,
                  TrainState(batches_per_epoch=len(loader), session_started=started, session_clock=clock), Throughput(acc.num_processes))


def fit(r: Recipe, resume_from: str | None = None) -> dict:
    """The training loop: epochs of steps, evaluating and checkpointing on schedule, stopping cleanly on a signal."""
    from .progress import bar as progress_bar

    cfg, acc, state = r.cfg, r.acc, r.state
    _record_session(cfg, acc, state)  # in run_info from the start: the card written at each evaluation counts it
    if resume_from:
        _resume(acc, resume_from, state, cfg.run_dir)
    trackers.start(cfg, acc, state.step)
    stop = _Stop()
    old_handlers = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    bar = progress_bar(total=r.total_steps, initial=state.step, desc="train", unit="step", disable=not acc.is_local_main_process)
    clock = r.clock
    clock.restart()
    try:
        while state.epoch < cfg.epochs and not _reached_max_steps(cfg, state):
            r.sampler.use_epoch(state.epoch)
            r.model.train()
            for batch in (acc.skip_first_batches(r.loader, state.batch_in_epoch) if state.batch_in_epoch else r.loader):
                loss = train_step(r, batch)
                state.batch_in_epoch += 1
                clock.windows += batch["input_ids"].shape[0]
                state.step += 1
                # .item() is a CPU-GPU sync point: once per optimizer step, for the log and the progress bar.
                state.last_loss = loss.item()
                state.windows_per_s = clock.rate()
                acc.log({"train/loss": state.last_loss, "train/lr": r.scheduler.get_last_lr()[0]}, step=state.step)
                bar.update(1)
                # refresh=False: the bar prints when tqdm's interval says so (30 s in a log file), not every step
                bar.set_postfix(loss=f"{state.last_loss:.3f}", win_s=f"{state.windows_per_s:.1f}", epoch=state.epoch, refresh=False)
                if cfg.eval_steps and state.step % cfg.eval_steps == 0 and state.epoch + 1 >= cfg.eval_from_epoch:
                    _evaluate_and_log(r)
                    clock.restart()
                stopping = _agreed_stop(acc, stop)
                if (cfg.save_steps and state.step % cfg.save_steps == 0) or stopping or _reached_max_steps(cfg, state):
                    _save_checkpoint(r)
                    clock.restart()
                if stopping:
                    _exit_on_signal(acc, stop, state, cfg)
                if _reached_max_steps(cfg, state):
                    break
            else:  # the epoch ran to its end
                state.epoch, state.batch_in_epoch = state.epoch + 1, 0
                if state.last_eval_step != state.step and state.epoch >= cfg.eval_from_epoch:
                    _evaluate_and_log(r)
                _save_checkpoint(r)
                clock.restart()
        if state.last_eval_step != state.step:
            _evaluate_and_log(r)
    finally:
        bar.close()
        for s, h in old_handlers.items():
            signal.signal(s, h)
        trackers.finish(acc)
        with contextlib.suppress(Exception):  # a session stopped by Ctrl-C, SIGTERM or an error still counts
            _record_session(cfg, acc, state)
    acc.wait_for_everyone()
    if acc.is_main_process and os.path.isdir(rundir.path(cfg.run_dir, rundir.BEST)):
        _check_bf16(r)
        try:  # the card again, now that the session's whole time is known (and the bf16 check's result)
            write_card(cfg.run_dir)
        except Exception as e:  # noqa: BLE001 -- as at each evaluation: the card must not end a finished run
            warnings.warn(f"no model card written ({type(e).__name__}: {e}); `albert-bench card {cfg.run_dir}` writes it later", stacklevel=2)
    final = rundir.read_metrics(cfg.run_dir)[-1] if acc.is_main_process else {}
    acc.end_training()
    return final


def train_step(r: Recipe, batch: dict) -> torch.Tensor:
    """One optimizer step on `batch`, in `cfg.grad_accum` forward passes whose gradients add up to the gradient
    of the mean loss over the whole batch (DDP synchronises only the last). Returns that mean loss."""
    import torch

    acc, model, cfg = r.acc, r.model, r.cfg
    rows = batch["input_ids"].shape[0]
    parts = [range(lo, min(lo + cfg.batch_size, rows)) for lo in range(0, rows, cfg.batch_size)]
    total = torch.zeros((), device=acc.device)
    for i, part in enumerate(parts):
        micro = {k: v[part.start:part.stop] for k, v in batch.items()}
        with acc.no_sync(model) if i < len(parts) - 1 else contextlib.nullcontext():
            _, loss = qa_forward(r.forward, micro)
            share = len(part) / rows  # the mean over the batch, also when its last part is short
            acc.backward(loss * share)
        total += loss.detach() * share
    acc.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
    r.optimizer.step()
    r.scheduler.step()
    r.optimizer.zero_grad(set_to_none=True)
    return total


def _reached_max_steps(cfg, state: TrainState) -> bool:
    return bool(cfg.max_steps) and state.step >= cfg.max_steps


def _resume(acc, ckpt: str, state: TrainState, run_dir: str) -> None:
    acc.load_state(ckpt)
    for k, v in rundir.trainer_state(ckpt).items():
        if k in TrainState.SAVED:
            setattr(state, k, v)
    # best/ from an evaluation after this checkpoint (the run was stopped between the two): its metrics row goes
    # with the rest below, so best/ stands only if a later evaluation earns it; the next one replaces it.
    best = rundir.read(run_dir, rundir.BEST, rundir.DEV_PREDICTIONS, lenient=True)
    best_step = best.get("step") if best else None
    if isinstance(best_step, int) and best_step > state.step:
        state.best_f1 = -1.0
        if acc.is_main_process:
            warnings.warn(f"{run_dir}/best is from step {best_step}, evaluated after this checkpoint (step {state.step}) and dropped from "
                          "the metrics log with it; the next evaluation replaces it", stacklevel=2)
    if acc.is_main_process:
        rundir.truncate_metrics(run_dir, state.step)
    acc.wait_for_everyone()
    acc.print(f"resumed from {ckpt}: epoch {state.epoch}, step {state.step}, batch {state.batch_in_epoch} of the epoch")


def _agreed_stop(acc, stop) -> bool:
    """Whether a stop signal arrived, agreed by every process: they must stop at the same step, or their
    collectives would not match."""
    stopping = stop.signal is not None
    if acc.num_processes > 1:
        import torch

        stopping = bool(acc.reduce(torch.tensor(int(stopping), device=acc.device), "max").item())
    return stopping


def _record_session(cfg, acc, state: TrainState) -> None:
    """This session's wall time in run_info.json (one entry per session; a resumed run adds its own), updated in
    place at its start, at each evaluation and at its end, however it ends."""
    if not acc.is_main_process:
        return
    info = rundir.read(cfg.run_dir, rundir.RUN_INFO) or {}
    started = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(state.session_started))
    sessions = [s for s in info.get("sessions", []) if not (isinstance(s, dict) and s.get("started") == started)]
    info["sessions"] = sessions + [{"started": started, "seconds": round(time.monotonic() - state.session_clock, 1)}]
    rundir.write(cfg.run_dir, rundir.RUN_INFO, obj=info)


def _exit_on_signal(acc, stop, state: TrainState, cfg) -> None:
    name = signal.Signals(stop.signal or signal.SIGTERM).name
    if acc.is_main_process:
        print(f"\n{name}: checkpoint saved at step {state.step}; continue with: albert-bench train --resume --run-dir {cfg.run_dir}", file=sys.stderr)
    raise SystemExit(130 if stop.signal == signal.SIGINT else 143)


def _evaluate_and_log(r: Recipe) -> None:
    """Evaluate on every process (each its share of the windows), log on the main one, and keep `best/` as the
    best model by dev F1."""
    cfg, acc, model, tokenizer, state = r.cfg, r.acc, r.model, r.tokenizer, r.state
    m, dec = evaluate_now(model, tokenizer, r.dev, cfg, acc)
    if acc.is_main_process:
        row = {"epoch": round(state.epoch + state.batch_in_epoch / state.batches_per_epoch, 4), "step": state.step,
               "train_loss": state.last_loss, "train_windows_per_s": state.windows_per_s, **m}
        import torch

        if torch.cuda.is_available():
            row["peak_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
        rundir.append_metrics(cfg.run_dir, row)
        acc.log({f"eval/{k}": v for k, v in row.items() if isinstance(v, (int, float)) and k not in ("epoch", "step")}, step=state.step)
        acc.print(f"\nstep {state.step} epoch {row['epoch']}: eval loss {m['eval_loss']:.4f}  EM {m['exact']:.2f}  F1 {m['f1']:.2f}  "
                  f"(HasAns F1 {m.get('HasAns_f1', float('nan')):.2f}, NoAns F1 {m.get('NoAns_f1', float('nan')):.2f}; best F1 {m['best_f1']:.2f} at threshold {m['best_f1_thresh']:.3f})")
        if m["best_f1"] > state.best_f1:  # best/ ships with the tuned threshold, so it is chosen by the tuned F1
            state.best_f1 = m["best_f1"]
            threshold = tuned_threshold(m, dec.null_odds)
            qa = QAConfig(null_threshold=threshold, max_answer_length=cfg.max_answer_length, calibration=_calibration(r.dev, dec, threshold),
                          max_seq_length=cfg.max_seq_length, doc_stride=cfg.doc_stride, max_query_length=cfg.max_query_length)
            save_model(acc.unwrap_model(model), tokenizer, rundir.path(cfg.run_dir, rundir.BEST), qa)
            # What the report's error analysis reads: the best span of every dev question and its null odds.
            rundir.write(cfg.run_dir, rundir.BEST, rundir.DEV_PREDICTIONS, obj={"step": state.step, "best_text": dec.best_text, "null_odds": dec.null_odds},
                         then="continue with --resume")
            try:  # the model card (best/README.md): results, data, settings; a problem with it must not end the run
                _record_session(cfg, acc, state)
                write_card(cfg.run_dir)
            except Exception as e:  # noqa: BLE001 -- any: hours of training are worth more than the card
                warnings.warn(f"no model card written ({type(e).__name__}: {e}); `albert-bench card {cfg.run_dir}` writes it later", stacklevel=2)
    acc.wait_for_everyone()
    state.last_eval_step = state.step
    # every process needs best_f1 in its trainer_state; only the main one computed it
    from accelerate.utils import broadcast_object_list

    state.best_f1 = broadcast_object_list([state.best_f1])[0]


def _calibration(dev: DevSet, dec, threshold: float) -> dict | None:
    """p_correct fitted on half the dev paragraphs and measured on the other half (`calibrate`), for best/; a dev set
    that cannot be split is a warning: the model then answers p_correct null."""
    from .calibrate import from_decoded, summary

    try:
        cal = from_decoded(dev.examples, dev.data, dec, threshold, where="--dev-file")
    except BenchError as e:
        warnings.warn(f"best/ is not calibrated ({e})", stacklevel=2)
        return None
    print(summary(cal), file=sys.stderr)
    return cal.to_dict()


def _check_bf16(r: Recipe) -> None:
    """best/ answered in fp32 and bf16 (`qa.check_bf16`), where this device computes bf16 natively: what
    `--precision auto` needs before it answers in bf16. Once per best/ (a new best/ has no check); a failure to
    check is a warning, never the end of a finished run."""
    from .qa import check_bf16, native_bf16

    best = rundir.path(r.cfg.run_dir, rundir.BEST)
    if not native_bf16(r.acc.device) or QAConfig.load(best).bf16_check is not None:
        return
    try:
        check_bf16(best, r.dev.examples, r.dev.data, device=str(r.acc.device), log=lambda m: print(m, file=sys.stderr))
    except Exception as e:  # noqa: BLE001 -- hours of training are worth more than the check
        warnings.warn(f"best/ has no bf16 check ({type(e).__name__}: {e}); `albert-bench check-precision --model {best} --data DEV.json` "
                      "makes it later", stacklevel=2)


def _save_checkpoint(r: Recipe) -> None:
    def extra(folder: str) -> None:  # so that a checkpoint is also a model directory
        r.tokenizer.save_pretrained(folder)
        r.acc.unwrap_model(r.model).config.save_pretrained(folder)

    rundir.save_checkpoint(r.acc, extra, rundir.path(r.cfg.run_dir, rundir.CHECKPOINTS), r.state.saved(), r.cfg.keep_checkpoints)


def run(args: dict) -> int:
    cfg = resolve_config(args)
    resume_from = None
    if cfg.resume:  # the newest intact checkpoint, stepping back over damaged ones (with a warning each)
        resume_from = rundir.newest_intact_checkpoint(cfg.run_dir)
        done = rundir.trainer_state(resume_from)
        if done["epoch"] >= cfg.epochs or (cfg.max_steps and done["step"] >= cfg.max_steps):
            print(f"{cfg.run_dir}: the run is finished (epoch {done['epoch']} of {cfg.epochs}, step {done['step']}); nothing to do. "
                  "Pass --epochs N (more than now) to extend it.", file=sys.stderr)
            return 0
    final = main(cfg, resume_from)
    if final:
        print(json.dumps({k: final[k] for k in ("epoch", "step", "exact", "f1", "best_f1", "best_f1_thresh") if k in final}))
    return 0


if __name__ == "__main__":
    sys.exit(run({}))
