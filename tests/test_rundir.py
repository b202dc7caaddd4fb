"""rundir: the run directory's one reader and writer, its lock and mark, checkpoints and their checks, the metrics log.
Fast and direct (no training): test_train covers the same functions through whole runs."""

import json
import os
import re

import pytest

from albert_bench import rundir
from albert_bench.errors import BenchError


def _checkpoint(root, step, **state):
    """A checkpoint folder as accelerate's save_state and the trainer write it (real torch zips, real safetensors)."""
    import torch
    from safetensors.torch import save_file

    ckpt = root / rundir.CHECKPOINTS / f"step-{step:08d}"
    ckpt.mkdir(parents=True)
    save_file({"w": torch.zeros(2)}, str(ckpt / "model.safetensors"))
    for name in ("optimizer.bin", "scheduler.bin", "random_states_0.pkl"):
        torch.save({"x": list(range(50))}, str(ckpt / name))
    (ckpt / rundir.TRAINER_STATE).write_text(json.dumps({"step": step, "epoch": 0, "batch_in_epoch": step, **state}))
    return ckpt


def test_read_has_one_rule_for_missing_unreadable_and_not_an_object(tmp_path):
    assert rundir.read(str(tmp_path), rundir.RUN_INFO) is None
    with pytest.raises(BenchError, match=r"run_info.json: no such file; pass a run"):
        rundir.read(str(tmp_path), rundir.RUN_INFO, need="pass a run")
    (tmp_path / rundir.CONFIG).write_text("{not json")
    with pytest.raises(BenchError, match=r"config.json"):
        rundir.read(str(tmp_path), rundir.CONFIG)
    assert rundir.read(str(tmp_path), rundir.CONFIG, lenient=True) is None
    (tmp_path / rundir.CONFIG).write_text("[1, 2]")
    with pytest.raises(BenchError, match=r"expected a JSON object"):
        rundir.read(str(tmp_path), rundir.CONFIG)
    assert rundir.read(str(tmp_path), rundir.CONFIG, lenient=True) is None


def test_read_errors_say_what_to_pass(tmp_path):
    """The lines a user sees: the file, what is wrong, and what to pass."""
    run = str(tmp_path)
    with pytest.raises(BenchError) as e:
        rundir.read(run, rundir.RUN_INFO, need="pass a run directory")
    assert str(e.value) == f"{os.path.join(run, rundir.RUN_INFO)}: no such file; pass a run directory"
    p = os.path.join(run, rundir.CONFIG)
    (tmp_path / rundir.CONFIG).write_text("{not json")
    with pytest.raises(BenchError) as e:
        rundir.read(run, rundir.CONFIG)
    assert str(e.value).startswith(f"{p}: not valid JSON (line 1")
    assert str(e.value).endswith("; pass a file of a run directory written by `albert-bench train`")
    (tmp_path / rundir.CONFIG).write_text("[1, 2]")
    with pytest.raises(BenchError) as e:
        rundir.read(run, rundir.CONFIG)
    assert str(e.value) == f"{p}: expected a JSON object (as `train` writes it); pass a run directory written by `albert-bench train`"
    with pytest.raises(BenchError) as e:
        rundir.trainer_state(run)
    assert str(e.value) == f"{os.path.join(run, rundir.TRAINER_STATE)}: no such file; pass a checkpoint written by `train`"


def test_write_that_fails_is_one_line_ending_in_what_to_do(tmp_path):
    with pytest.raises(BenchError) as e:
        rundir.write(str(tmp_path / "no-such-folder"), rundir.CONFIG, obj={"a": 1})
    assert str(e.value).startswith(f"could not write the file {tmp_path / 'no-such-folder' / rundir.CONFIG} (")
    assert str(e.value).endswith("; free some space or fix the permissions, then run the command again")


def test_run_directory_layout_has_the_documented_names():
    """The names README and this module's docstring give: runs written by earlier versions must still be read."""
    assert (rundir.CHECKPOINTS, rundir.BEST, rundir.CONFIG, rundir.CONFIG_YAML, rundir.RUN_INFO, rundir.METRICS) == (
        "checkpoints", "best", "config.json", "config.yaml", "run_info.json", "metrics.jsonl")
    assert (rundir.TENSORBOARD, rundir.WANDB, rundir.MLFLOW) == ("tb", "wandb", "mlruns")


def test_write_then_read_round_trips_and_nan_becomes_null(tmp_path):
    (tmp_path / rundir.BEST).mkdir()
    with pytest.warns(UserWarning, match="null"):
        rundir.write(str(tmp_path), rundir.BEST, rundir.DEV_PREDICTIONS, obj={"a": 1, "loss": float("nan")})
    assert rundir.read(str(tmp_path), rundir.BEST, rundir.DEV_PREDICTIONS) == {"a": 1, "loss": None}
    assert rundir.path("r", rundir.BEST, rundir.DEV_PREDICTIONS) == os.path.join("r", "best", "dev_predictions.json")


def test_a_run_is_told_from_a_model_and_stands_for_its_best_model(tmp_path):
    run, model = tmp_path / "run", tmp_path / "model"
    run.mkdir()
    model.mkdir()
    assert not rundir.is_run(str(run))  # empty: neither
    (run / rundir.METRICS).write_text("")
    assert rundir.is_run(str(run)) and not rundir.is_run(str(tmp_path / "nothing"))
    (model / rundir.RUN_INFO).write_text("{}")
    (model / "model.safetensors").write_text("")
    assert not rundir.is_run(str(model))  # a model folder that also holds a run file is a model
    onnx = tmp_path / "onnx"
    onnx.mkdir()
    (onnx / rundir.METRICS).write_text("")
    (onnx / "model.onnx").write_text("")
    assert not rundir.is_run(str(onnx))  # an exported model too
    assert rundir.answering_model(str(model)) == str(model)
    with pytest.raises(BenchError) as e:
        rundir.answering_model(str(run))
    assert str(e.value) == (f"{run} is a training run without a best model yet (best/ is saved at its first evaluation); "
                            "wait for it, or pass another model directory")
    (run / rundir.BEST).mkdir()
    with pytest.warns(UserWarning) as said:
        assert rundir.answering_model(str(run)) == os.path.join(str(run), rundir.BEST)
    best = os.path.join(str(run), rundir.BEST)
    assert [str(w.message) for w in said] == [f"{run} is a training run: answering with its best model, {best}"]
    assert said[0].filename == __file__  # the warning names the caller's line, not rundir's
    assert rundir.run_of(str(run / rundir.BEST)) == str(run)
    assert rundir.run_of(str(run / rundir.BEST) + "/") == str(run)
    assert rundir.run_of(str(model)) == str(model)
    other = tmp_path / "x" / rundir.BEST
    other.mkdir(parents=True)
    assert rundir.run_of(str(other)) == str(other)  # a folder named best/ outside a run


def test_lock_marks_only_a_folder_it_creates_or_finds_without_a_run_s_files(tmp_path):
    fresh, empty, notes, used = tmp_path / "fresh", tmp_path / "empty", tmp_path / "notes", tmp_path / "used"
    for d in (empty, notes, used):
        d.mkdir()
    (notes / "notes.txt").write_text("mine")  # the user's notes only: a run may start there, and start again after a kill
    (used / "config.json").write_text("{}")  # a name a run writes, not written by train: never train's
    for d in (fresh, empty, notes, used):
        rundir.lock(str(d))
    assert [rundir.is_trains(str(d)) for d in (fresh, empty, notes, used)] == [True, True, True, False]
    # the mark says, to whoever finds it, what it is for
    assert (fresh / rundir.MARK).read_text() == "a run directory of `albert-bench train`; `train --overwrite` may clear it\n"


def test_lock_is_run_dot_lock_naming_train_and_a_second_holder_is_told_the_flag(tmp_path):
    import fcntl

    run = tmp_path / "run"
    rundir.lock(str(run))
    assert (run / ".lock").read_text() == f"process {os.getpid()} (albert-bench train)\n"
    other = tmp_path / "other"
    other.mkdir()
    with open(other / ".lock", "w") as fh:  # another trainer holds it (flock: per open file, so this counts as another)
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fh.write("process 1 (albert-bench train)\n")
        fh.flush()
        with pytest.raises(BenchError) as e:
            rundir.lock(str(other))
    assert str(e.value) == f"{other} is in use by process 1 (albert-bench train); wait for it to finish, or pass another --run-dir"


def test_earlier_run_names_what_a_new_run_would_mix_with_and_clear_deletes_only_that(tmp_path):
    assert rundir.earlier_run(str(tmp_path)) == []
    (tmp_path / rundir.RUN_INFO).write_text("{}")
    assert rundir.earlier_run(str(tmp_path)) == []  # a run that stopped before its first evaluation
    (tmp_path / rundir.METRICS).write_text("{}\n")
    _checkpoint(tmp_path, 3)
    (tmp_path / rundir.BEST).mkdir()
    (tmp_path / rundir.TENSORBOARD).mkdir()
    (tmp_path / rundir.MARK).write_text("mark")
    (tmp_path / "mine.txt").write_text("keep")
    assert rundir.earlier_run(str(tmp_path)) == [rundir.METRICS, "checkpoints/", "best/"]
    rundir.clear(str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == sorted([rundir.MARK, "mine.txt"])


def test_clear_that_cannot_delete_is_one_line_naming_the_file(tmp_path):
    (tmp_path / rundir.METRICS).mkdir()  # a folder where a file is expected is removed too ...
    (tmp_path / rundir.BEST).write_text("a file where best/ should be")
    rundir.clear(str(tmp_path))
    assert not os.listdir(tmp_path)
    if os.geteuid() == 0:
        return  # root deletes anything: the failure needs a folder it may not write (CI runs as root)
    (tmp_path / rundir.CHECKPOINTS).mkdir()
    (tmp_path / rundir.CHECKPOINTS / "x").write_text("")
    os.chmod(tmp_path / rundir.CHECKPOINTS, 0o500)
    try:
        with pytest.raises(BenchError, match="--overwrite: could not delete"):
            rundir.clear(str(tmp_path))
    finally:
        os.chmod(tmp_path / rundir.CHECKPOINTS, 0o700)


def test_clear_that_cannot_delete_names_the_file_and_the_reason(tmp_path, monkeypatch):
    """As root (CI) nothing refuses a delete, so the refusal is made here: the line names the file the OS named, or
    else the path, with the OS's reason, or else the error itself."""
    (tmp_path / rundir.CHECKPOINTS).mkdir()

    def refuse(path, **kw):
        raise PermissionError(13, "Permission denied", os.path.join(path, "step-1", "model.safetensors"))

    monkeypatch.setattr(rundir.shutil, "rmtree", refuse)
    with pytest.raises(BenchError) as e:
        rundir.clear(str(tmp_path))
    where = os.path.join(str(tmp_path), rundir.CHECKPOINTS)
    assert str(e.value) == (f"--overwrite: could not delete {os.path.join(where, 'step-1', 'model.safetensors')} (Permission denied); "
                            "delete it yourself or give a new --run-dir")

    def fail(path, **kw):
        raise OSError("disk gone")

    monkeypatch.setattr(rundir.shutil, "rmtree", fail)
    with pytest.raises(BenchError) as e:
        rundir.clear(str(tmp_path))
    assert str(e.value) == f"--overwrite: could not delete {where} (disk gone); delete it yourself or give a new --run-dir"


def test_checkpoints_are_oldest_first_and_each_damage_is_named(tmp_path):
    a, b = _checkpoint(tmp_path, 20), _checkpoint(tmp_path, 3)
    assert rundir.checkpoints(str(tmp_path)) == [str(b), str(a)]
    assert rundir.checkpoint_problem(str(a)) is None
    assert rundir.trainer_state(str(a))["step"] == 20

    def damaged(how):
        c = _checkpoint(tmp_path / how, 5)
        return c

    c = damaged("missing")
    os.remove(c / "scheduler.bin")
    assert rundir.checkpoint_problem(str(c)) == "scheduler.bin is missing"
    c = damaged("truncated")
    data = (c / "optimizer.bin").read_bytes()
    (c / "optimizer.bin").write_bytes(data[: len(data) // 2])
    assert rundir.checkpoint_problem(str(c)).startswith("optimizer.bin is damaged")
    for where in ("name", "data"):  # same length, one byte changed: in a member's name, or in its data (only its CRC tells)
        c = damaged(f"flipped-{where}")
        data = bytearray((c / "random_states_0.pkl").read_bytes())
        name = data.index(b"data.pkl")
        i = name + 2 if where == "name" else data.index(b"\x80", name) + 3  # a pickle starts with \x80 (its protocol)
        data[i] ^= 0xFF
        (c / "random_states_0.pkl").write_bytes(bytes(data))
        problem = rundir.checkpoint_problem(str(c))
        assert problem.startswith("random_states_0.pkl is damaged"), (where, problem)
        if where == "data":  # the archive reads, one member's CRC does not match: that member is named
            assert re.fullmatch(r"random_states_0\.pkl is damaged \([^()]*data\.pkl\)", problem), problem
    c = damaged("weights")
    (c / "model.safetensors").write_bytes(b"\x00" * 5)
    assert rundir.checkpoint_problem(str(c)).startswith("model.safetensors is damaged or truncated")
    c = damaged("state")
    (c / rundir.TRAINER_STATE).write_text("{")
    problem = rundir.checkpoint_problem(str(c))  # read_json's line without the path, which the caller adds
    assert problem.startswith("trainer_state.json: not valid JSON (line 1, column 2: ") and problem.endswith("); pass a trainer state")
    (c / rundir.TRAINER_STATE).write_text(json.dumps({"step": 5, "epoch": 0}))
    assert rundir.checkpoint_problem(str(c)) == "trainer_state.json lacks step, epoch or batch_in_epoch"
    (c / rundir.TRAINER_STATE).write_text(json.dumps({"step": 6, "epoch": 0, "batch_in_epoch": 1}))
    assert rundir.checkpoint_problem(str(c)) == "trainer_state.json says step 6, the folder another"
    assert rundir.checkpoint_problem(str(c), named=False) is None


def test_resume_falls_back_past_damaged_checkpoints_saying_so(tmp_path):
    where = os.path.join(str(tmp_path), rundir.CHECKPOINTS)
    with pytest.raises(BenchError) as e:
        rundir.newest_intact_checkpoint(str(tmp_path))
    assert str(e.value) == f"--resume: no checkpoint in {where}; start a new run without --resume"
    old, new = _checkpoint(tmp_path, 1), _checkpoint(tmp_path, 2)
    os.remove(new / "model.safetensors")
    said = []
    assert rundir.newest_intact_checkpoint(str(tmp_path), warn=said.append) == str(old)
    assert said == [f"checkpoint {new} is damaged (model.safetensors is missing); falling back to the one before it"]
    os.remove(old / "optimizer.bin")
    with pytest.raises(BenchError) as e:
        rundir.newest_intact_checkpoint(str(tmp_path), warn=said.append)
    assert str(e.value) == f"--resume: none of the 2 checkpoints in {where} is intact; start a new run without --resume"


def test_metrics_log_appends_drops_a_torn_line_and_truncates_to_a_step(tmp_path):
    assert rundir.read_metrics(str(tmp_path)) == []
    rundir.truncate_metrics(str(tmp_path), 5)  # nothing to truncate: nothing written
    assert not (tmp_path / rundir.METRICS).exists()
    for step in (2, 4, 6):
        rundir.append_metrics(str(tmp_path), {"step": step, "f1": step * 10.0})
    with open(tmp_path / rundir.METRICS, "a") as f:
        f.write('{"step": 8, "f1"')  # a kill during the append
    said = []
    assert [r["step"] for r in rundir.read_metrics(str(tmp_path), warn=said.append)] == [2, 4, 6] and len(said) == 1
    with pytest.warns(UserWarning, match="the last line is incomplete"):
        rundir.truncate_metrics(str(tmp_path), 4)  # the torn line goes too
    assert [r["step"] for r in rundir.read_metrics(str(tmp_path))] == [2, 4]
    assert (tmp_path / rundir.METRICS).read_text().endswith("\n")


def test_metrics_log_problems_name_the_log(tmp_path):
    (tmp_path / rundir.METRICS).mkdir()  # a folder where the log should be: the append fails
    with pytest.raises(BenchError, match=r"^could not write the metrics log "):
        rundir.append_metrics(str(tmp_path), {"step": 1})
    os.rmdir(tmp_path / rundir.METRICS)
    (tmp_path / rundir.METRICS).write_text('{"step": 1}\nnot json\n{"step": 3}\n')  # bad, and not the last line
    with pytest.raises(BenchError) as e:
        rundir.read_metrics(str(tmp_path))
    assert str(e.value).startswith(f"{tmp_path / rundir.METRICS}: line 2: not valid JSON")
    assert str(e.value).endswith("; pass the run's metrics.jsonl (written by `train`)")


def test_truncating_the_metrics_log_that_cannot_be_written_says_continue_with_resume(tmp_path):
    """A real write failure (a file-size limit, as a full disk), in a child process so the limit is its alone."""
    import subprocess
    import sys

    rows = "".join(json.dumps({"step": s, "pad": "x" * 400}) + "\n" for s in (1, 2, 3))
    (tmp_path / rundir.METRICS).write_text(rows)
    code = ("import resource; resource.setrlimit(resource.RLIMIT_FSIZE, (500, 500))\n"
            "from albert_bench import rundir\nfrom albert_bench.errors import BenchError\n"
            f"try:\n    rundir.truncate_metrics({str(tmp_path)!r}, 2)\nexcept BenchError as e: print(e)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.startswith(f"could not write the metrics log {tmp_path / rundir.METRICS} (File too large"), (r.stdout, r.stderr)
    assert r.stdout.rstrip().endswith(", then continue with --resume")
    assert (tmp_path / rundir.METRICS).read_text() == rows  # untouched


def test_save_checkpoint_renames_a_complete_folder_into_place_and_keeps_the_newest(tmp_path):
    import torch
    from accelerate import Accelerator

    acc = Accelerator(cpu=True)
    model = torch.nn.Linear(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    model, opt, sched = acc.prepare(model, opt, sched)
    root = tmp_path / rundir.CHECKPOINTS
    root.mkdir()
    extra = lambda d: open(os.path.join(d, "extra.txt"), "w").close()  # noqa: E731
    for step in (1, 2, 3):
        saved = rundir.save_checkpoint(acc, extra, str(root), {"step": step, "epoch": 0, "batch_in_epoch": step}, keep=2)
        assert saved == str(root / f"step-{step:08d}") and rundir.checkpoint_problem(saved) is None
    assert [os.path.basename(c) for c in rundir.checkpoints(str(tmp_path))] == ["step-00000002", "step-00000003"]
    assert sorted(os.listdir(root)) == ["step-00000002", "step-00000003"]  # no temporary folder left
    assert os.path.exists(root / "step-00000003" / "extra.txt")

    def broken(d):
        raise OSError(28, "No space left on device")

    with pytest.raises(BenchError, match=r"could not write the checkpoint .* \(No space left on device;"):
        rundir.save_checkpoint(acc, broken, str(root), {"step": 4, "epoch": 0, "batch_in_epoch": 4}, keep=2)
    assert sorted(os.listdir(root)) == ["step-00000002", "step-00000003"]  # the finished ones untouched

    def damaging(d):  # the write "succeeds", but what landed on disk does not read back
        with open(os.path.join(d, "optimizer.bin"), "wb") as fh:
            fh.write(b"PK\x03\x04 not a whole zip")

    with pytest.raises(BenchError, match=r"could not write the checkpoint .* \(optimizer.bin is damaged or truncated"):
        rundir.save_checkpoint(acc, damaging, str(root), {"step": 4, "epoch": 0, "batch_in_epoch": 4}, keep=2)
    assert sorted(os.listdir(root)) == ["step-00000002", "step-00000003"]


class _OtherRank:
    """A process other than the main one, as accelerate's Accelerator shows it to save_checkpoint (one process here)."""

    is_main_process = False

    def __init__(self, error=None):
        self.error = error

    def wait_for_everyone(self):
        pass

    def save_state(self, folder):
        if self.error:
            raise self.error


def test_save_checkpoint_on_another_rank_only_passes_its_own_error_on(tmp_path):
    root = tmp_path / rundir.CHECKPOINTS
    root.mkdir()
    state = {"step": 1, "epoch": 0, "batch_in_epoch": 1}
    assert rundir.save_checkpoint(_OtherRank(), None, str(root), state, keep=2) == str(root / "step-00000001")
    assert os.listdir(root) == []  # the main process writes, checks and renames
    with pytest.raises(OSError, match="No space left"):
        rundir.save_checkpoint(_OtherRank(OSError(28, "No space left on device")), None, str(root), state, keep=2)
