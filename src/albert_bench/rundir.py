"""A training run's directory: its lock, its checkpoints (save, verify, rotate, fall back) and its metrics log.

    RUN/.lock                  held by the trainer using RUN (an OS lock: freed on any exit, kill -9 included)
    RUN/config.json, .yaml     the resolved configuration
    RUN/run_info.json          model, data files and hashes, hardware, one entry per session
    RUN/metrics.jsonl          one JSON object per evaluation, appended
    RUN/checkpoints/step-N/    model, optimizer, scheduler, RNG states, trainer_state.json: renamed into place complete
    RUN/best/                  the best model by dev F1 with its tuned threshold

Everything here that writes says, in one line, what could not be written and how much space is left, and
leaves the last good checkpoint as it was.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import warnings
import zipfile
import zlib

from .errors import BenchError
from .files import RUN_MARK, atomic_write, hold, json_text, read_json, read_jsonl, replace_dir, write_failed, write_json_set

# The run directory's layout: no other module spells these names (they use the paths and readers below).
CHECKPOINTS = "checkpoints"
BEST = "best"
CONFIG = "config.json"
CONFIG_YAML = "config.yaml"
RUN_INFO = "run_info.json"
METRICS = "metrics.jsonl"
TRAINER_STATE = "trainer_state.json"
DEV_PREDICTIONS = "dev_predictions.json"  # in best/: the best model's dev answers and null odds, and its step
TENSORBOARD, WANDB, MLFLOW = "tb", "wandb", "mlruns"  # the trackers' folders
TRACKERS = (TENSORBOARD, WANDB, MLFLOW)
WHAT = "a run directory written by `albert-bench train`"


def path(run_dir: str, *names: str) -> str:
    """A file or folder of the run: `path(run, BEST, DEV_PREDICTIONS)`."""
    return os.path.join(run_dir, *names)


def read(run_dir: str, *names: str, need: str | None = None, lenient: bool = False) -> dict | None:
    """The JSON object in one of the run's files — the one reader of them, with one rule. Missing: None, or one line
    ending with `need` when the caller cannot do without it. Not a readable JSON object: one line, or None when
    `lenient` (a file that only refines a decision)."""
    p = path(run_dir, *names)
    if not os.path.exists(p):
        if need:
            raise BenchError(f"{p}: no such file; {need}")
        return None
    try:
        obj = read_json(p, f"a file of {WHAT}")
        if not isinstance(obj, dict):
            raise BenchError(f"{p}: expected a JSON object (as `train` writes it); pass {WHAT}")
    except BenchError:
        if lenient:
            return None
        raise
    return obj


def trainer_state(ckpt: str) -> dict:
    """A checkpoint's trainer state (step, epoch, batch in epoch, best F1, ...)."""
    return read_json(path(ckpt, TRAINER_STATE), "a checkpoint written by `train`")


def write(run_dir: str, *names: str, obj: dict, then: str = "run the command again") -> None:
    """Write one of the run's JSON files atomically (`files.write_json_set`)."""
    write_json_set({path(run_dir, *names): obj}, then)
# What accelerate's save_state writes (plus our trainer state); random_states_<rank>.pkl, one per process.
CHECKPOINT_FILES = ("model.safetensors", "optimizer.bin", "scheduler.bin", "random_states_0.pkl", TRAINER_STATE)


def is_run(path: str) -> bool:
    """Whether `path` is a training run's directory (what `train --run-dir` writes), not a model directory."""
    has = lambda name: os.path.exists(os.path.join(path, name))  # noqa: E731
    return os.path.isdir(path) and (has(RUN_INFO) or has(METRICS)) and not has("model.safetensors") and not has("model.onnx")


def answering_model(path: str, doing: str = "answering with") -> str:
    """The model to answer with (or push: `doing`) when a command is given `path`: a run directory stands for its
    `best/` model (said in one warning line); anything else is taken as it is. A run without best/ yet is one line."""
    if not is_run(path):
        return path
    best = os.path.join(path, BEST)
    if not os.path.isdir(best):
        raise BenchError(f"{path} is a training run without a best model yet (best/ is saved at its first evaluation); "
                         "wait for it, or pass another model directory")
    warnings.warn(f"{path} is a training run: {doing} its best model, {best}", stacklevel=2)
    return best


def run_of(path: str) -> str:
    """The run directory for `path`: the run itself, or the run that holds `path` as its best/ model."""
    parent = os.path.dirname(os.path.normpath(path))
    if os.path.basename(os.path.normpath(path)) == BEST and is_run(parent) and not is_run(path):
        return parent
    return path


MARK = RUN_MARK  # in a folder `train` created (or found without a run's files): only such a folder may be --overwrite'n
RUN_NAMES = (CONFIG, CONFIG_YAML, RUN_INFO, METRICS, CHECKPOINTS, BEST, *TRACKERS)  # what a run writes in its folder


def is_trains(run_dir: str) -> bool:
    """Whether `train` made this folder its run directory (its mark is there): `--overwrite` deletes nothing else."""
    return os.path.isfile(os.path.join(run_dir, MARK))


def lock(run_dir: str) -> None:
    """Take RUN/.lock for this process, or one line naming the process that holds it (exit 2 from the CLI). A
    folder this creates, or finds without any of a run's files (empty, or the user's notes only), gets train's mark:
    what --overwrite may later clear (only the run's own names), and what a new run there after a kill needs."""
    fresh = not os.path.exists(run_dir) or (os.path.isdir(run_dir) and not _run_files(run_dir))
    os.makedirs(run_dir, exist_ok=True)
    if fresh:
        with atomic_write(os.path.join(run_dir, MARK), what="the run directory's mark") as f:
            f.write("a run directory of `albert-bench train`; `train --overwrite` may clear it\n")
    hold(run_dir, "train", "--run-dir", is_dir=True)


def foreign(run_dir: str) -> list[str]:
    """The names a run writes that a folder `train` did not create (no MARK) already holds: a user's config.json,
    config.yaml or another model's files, which a new run would replace. Empty for train's own folders."""
    return [] if is_trains(run_dir) else _run_files(run_dir)


def _run_files(run_dir: str) -> list[str]:
    """Which of the names a run writes (RUN_NAMES) are in `run_dir`."""
    return [n for n in RUN_NAMES if os.path.lexists(os.path.join(run_dir, n))]


def earlier_run(run_dir: str) -> list[str]:
    """What an earlier run left in RUN that a new one would mix with (its metrics log, checkpoints, best/); empty
    for a new directory or one whose run stopped before its first evaluation or checkpoint."""
    return ([METRICS] if os.path.exists(os.path.join(run_dir, METRICS)) else []) + \
        ([f"{CHECKPOINTS}/"] if checkpoints(run_dir) else []) + ([f"{BEST}/"] if os.path.exists(os.path.join(run_dir, BEST)) else [])


def clear(run_dir: str) -> None:
    """Delete what an earlier run wrote in RUN (for `train --overwrite`); the lock, and anything else, stays.
    All of it or one line: a checkpoint left behind would be what a later --resume continues."""
    for name in (METRICS, RUN_INFO, CHECKPOINTS, BEST, *TRACKERS):  # trackers too: a new run is not the old one's
        path = os.path.join(run_dir, name)
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            elif os.path.lexists(path):
                os.remove(path)
        except OSError as e:
            raise BenchError(f"--overwrite: could not delete {e.filename or path} ({e.strerror or e}); delete it yourself "
                             "or give a new --run-dir") from None


def checkpoints(run_dir: str) -> list[str]:
    """Checkpoint folders, oldest first."""
    return sorted(glob.glob(os.path.join(run_dir, CHECKPOINTS, "step-*")))


def checkpoint_problem(ckpt: str, named: bool = True) -> str | None:
    """What is wrong with a checkpoint (a missing, unreadable, truncated or inconsistent file), or None.
    `named`: the folder's name must say the step its trainer state holds (not so for one still being written)."""
    for name in CHECKPOINT_FILES:
        if not os.path.isfile(os.path.join(ckpt, name)):
            return f"{name} is missing"
    for path in sorted(glob.glob(os.path.join(ckpt, "*.bin")) + glob.glob(os.path.join(ckpt, "*.pkl"))):
        try:  # torch.save writes zip archives: testzip reads every member and checks its CRC
            with zipfile.ZipFile(path) as z:
                if (bad := z.testzip()) is not None:
                    return f"{os.path.basename(path)} is damaged ({bad})"
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error) as e:  # a damaged name is a UnicodeDecodeError
            return f"{os.path.basename(path)} is damaged or truncated ({e})"
    try:
        from safetensors import safe_open

        with safe_open(os.path.join(ckpt, "model.safetensors"), "pt") as f:
            f.keys()
    except Exception as e:  # noqa: BLE001 - safetensors raises its own error types
        return f"model.safetensors is damaged or truncated ({str(e).splitlines()[0][:120]})"
    try:
        state = read_json(os.path.join(ckpt, TRAINER_STATE), "a trainer state")
    except BenchError as e:
        return f"{TRAINER_STATE}: {str(e).split(': ', 1)[-1]}"
    if not isinstance(state, dict) or not all(isinstance(state.get(k), int) for k in ("step", "epoch", "batch_in_epoch")):
        return f"{TRAINER_STATE} lacks step, epoch or batch_in_epoch"
    if named and os.path.basename(ckpt) != f"step-{state['step']:08d}":
        return f"{TRAINER_STATE} says step {state['step']}, the folder another"
    return None


def newest_intact_checkpoint(run_dir: str, warn=None) -> str:
    """The newest checkpoint that passes `checkpoint_problem`; each damaged one newer than it is warned about."""
    found = checkpoints(run_dir)
    for ckpt in reversed(found):
        problem = checkpoint_problem(ckpt)
        if problem is None:
            return ckpt
        (warn or warnings.warn)(f"checkpoint {ckpt} is damaged ({problem}); falling back to the one before it")
    if not found:
        raise BenchError(f"--resume: no checkpoint in {os.path.join(run_dir, CHECKPOINTS)}; start a new run without --resume")
    raise BenchError(f"--resume: none of the {len(found)} checkpoints in {os.path.join(run_dir, CHECKPOINTS)} is intact; start a new run without --resume")


def save_checkpoint(acc, write_extra, root: str, state: dict, keep: int) -> str:
    """checkpoints/step-N, written into a temporary folder and renamed only once complete; then the oldest are
    removed down to `keep`. A failed write removes the temporary folder and touches no finished checkpoint."""
    final = os.path.join(root, f"step-{state['step']:08d}")
    tmp = os.path.join(root, f".tmp-step-{state['step']:08d}")
    error = None
    if acc.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
    acc.wait_for_everyone()
    try:
        acc.save_state(tmp)
        if acc.is_main_process:
            write_extra(tmp)
            with open(os.path.join(tmp, TRAINER_STATE), "w", encoding="utf-8") as fh:
                json.dump(state, fh)
    except Exception as e:  # noqa: BLE001 - OSError, or safetensors' own error for ENOSPC
        error = e
    if acc.is_main_process:
        if error is not None or (problem := checkpoint_problem(tmp, named=False)) is not None:
            shutil.rmtree(tmp, ignore_errors=True)
            raise write_failed("the checkpoint", tmp, error or OSError(problem))
        replace_dir(tmp, final)
        for old in checkpoints(os.path.dirname(root))[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    elif error is not None:
        raise error
    acc.wait_for_everyone()
    return final


def append_metrics(run_dir: str, row: dict) -> None:
    path = os.path.join(run_dir, METRICS)
    line = json_text(row, where=path) + "\n"  # a diverged loss (NaN) is logged as null, with a warning
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as e:
        raise write_failed("the metrics log", path, e) from None


def read_metrics(run_dir: str, warn=None) -> list[dict]:
    """The evaluations logged so far; a torn last line (a kill during the append) is dropped with a warning."""
    path = os.path.join(run_dir, METRICS)
    return read_jsonl(path, "the run's metrics.jsonl (written by `train`)", warn) if os.path.exists(path) else []


def truncate_metrics(run_dir: str, step: int) -> None:
    """After a crash, keep only evaluations up to the checkpoint we resume from (the rest will be redone)."""
    path = os.path.join(run_dir, METRICS)
    if not os.path.exists(path):
        return
    rows = [r for r in read_metrics(run_dir) if r["step"] <= step]
    with atomic_write(path, what="the metrics log", then="continue with --resume") as fh:
        fh.writelines(json_text(r, where=path) + "\n" for r in rows)
