"""rundir: the run directory's one reader and writer, its lock and mark, checkpoints and their checks, the metrics log.
Fast and direct (no training): test_train covers the same functions through whole runs."""

import json
import os

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
    assert rundir.answering_model(str(model)) == str(model)
    with pytest.raises(BenchError, match="without a best model yet"):
        rundir.answering_model(str(run))
    (run / rundir.BEST).mkdir()
    with pytest.warns(UserWarning, match="answering with its best model"):
        assert rundir.answering_model(str(run)) == os.path.join(str(run), rundir.BEST)
    assert rundir.run_of(str(run / rundir.BEST)) == str(run)
    assert rundir.run_of(str(run / rundir.BEST) + "/") == str(run)
    assert rundir.run_of(str(model)) == str(model)
    other = tmp_path / "x" / rundir.BEST
    other.mkdir(parents=True)
    assert rundir.run_of(str(other)) == str(other)  # a folder named best/ outside a run


def test_lock_marks_only_a_folder_it_creates_or_finds_empty(tmp_path):
    fresh, empty, used = tmp_path / "fresh", tmp_path / "empty", tmp_path / "used"
    empty.mkdir()
    used.mkdir()
    (used / "notes.txt").write_text("mine")
    for d in (fresh, empty, used):
        rundir.lock(str(d))
    assert rundir.is_trains(str(fresh)) and rundir.is_trains(str(empty)) and not rundir.is_trains(str(used))


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
        assert "random_states_0.pkl is damaged" in rundir.checkpoint_problem(str(c)), where
    c = damaged("weights")
    (c / "model.safetensors").write_bytes(b"\x00" * 5)
    assert rundir.checkpoint_problem(str(c)).startswith("model.safetensors is damaged or truncated")
    c = damaged("state")
    (c / rundir.TRAINER_STATE).write_text("{")
    assert rundir.checkpoint_problem(str(c)).startswith("trainer_state.json:")
    (c / rundir.TRAINER_STATE).write_text(json.dumps({"step": 5, "epoch": 0}))
    assert rundir.checkpoint_problem(str(c)) == "trainer_state.json lacks step, epoch or batch_in_epoch"
    (c / rundir.TRAINER_STATE).write_text(json.dumps({"step": 6, "epoch": 0, "batch_in_epoch": 1}))
    assert rundir.checkpoint_problem(str(c)) == "trainer_state.json says step 6, the folder another"
    assert rundir.checkpoint_problem(str(c), named=False) is None


def test_resume_falls_back_past_damaged_checkpoints_saying_so(tmp_path):
    with pytest.raises(BenchError, match="--resume: no checkpoint in"):
        rundir.newest_intact_checkpoint(str(tmp_path))
    old, new = _checkpoint(tmp_path, 1), _checkpoint(tmp_path, 2)
    os.remove(new / "model.safetensors")
    said = []
    assert rundir.newest_intact_checkpoint(str(tmp_path), warn=said.append) == str(old)
    assert len(said) == 1 and str(new) in said[0] and "model.safetensors is missing" in said[0]
    os.remove(old / "optimizer.bin")
    with pytest.raises(BenchError, match="none of the 2 checkpoints"):
        rundir.newest_intact_checkpoint(str(tmp_path), warn=said.append)


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

    with pytest.raises(BenchError, match="could not write the checkpoint"):
        rundir.save_checkpoint(acc, broken, str(root), {"step": 4, "epoch": 0, "batch_in_epoch": 4}, keep=2)
    assert sorted(os.listdir(root)) == ["step-00000002", "step-00000003"]  # the finished ones untouched
