"""`--report-to tensorboard,wandb,mlflow`: accelerate's trackers, each written for real to local storage (wandb
offline, MLflow's file store in the run directory) and read back with the tracker's own reader: the scalars
are the run's; a resumed run continues the same wandb and MLflow runs and logs no step twice."""

import glob
import json
import os
import subprocess
import sys

import pytest

from conftest import metrics


def _train(small, run, *extra):  # noqa: F811
    from tests.conftest import ALBERT_DIR
    from albert_bench.synthetic import tiny_albert_dir

    if not os.path.exists(run.parent / "tiny"):
        tiny_albert_dir(str(run.parent / "tiny"), str(ALBERT_DIR), hidden=64, layers=1, heads=2, dropout=0.0)
    args = ["train", "--model", run.parent / "tiny", "--init", "random", "--train-file", small / "train.json", "--dev-file", small / "dev.json",
            "--max-seq-length", 128, "--doc-stride", 32, "--run-dir", run, "--epochs", 1, "--batch-size", 16, "--eval-steps", 2,
            "--save-steps", 2, "--lr", 1e-3, "--report-to", "tensorboard,wandb,mlflow", *extra]
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "HF_HUB_OFFLINE": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    r = subprocess.run([sys.executable, "-m", "albert_bench", *map(str, args)], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


def _tensorboard(run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run / "tb"), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def _mlflow(run, run_id):
    from mlflow.tracking import MlflowClient

    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    client = MlflowClient(tracking_uri="file:" + str(run / "mlruns"))
    return {k: [(m.step, m.value) for m in sorted(client.get_metric_history(run_id, k), key=lambda m: m.step)]
            for k in ("train/loss", "eval/f1", "eval/exact")}, client.get_run(run_id).data.params


def _wandb_records(path):
    """The records of a .wandb file. wandb 0.31 no longer ships its Python reader; the format is its own header
    (":W&B", version) then LevelDB's log format: 32 KiB blocks of records with a 7-byte header (CRC, length,
    type: full, first, middle, last)."""
    import struct

    data = open(path, "rb").read()
    assert data[:4] == b":W&B"
    pos, block, part = 7, 32768, b""
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        if length == 0 and kind == 0:
            break
        chunk, pos = data[pos + 7:pos + 7 + length], pos + 7 + length
        part = chunk if kind in (1, 2) else part + chunk
        if kind in (1, 4):
            yield part


def _wandb(run):
    """Every history row of the offline wandb run(s), each record parsed by wandb's own protobuf classes."""
    from wandb.proto import wandb_internal_pb2

    rows = []
    for path in sorted(glob.glob(str(run / "wandb" / "offline-run-*" / "run-*.wandb"))):
        for data in _wandb_records(path):
            rec = wandb_internal_pb2.Record()
            rec.ParseFromString(data)
            if rec.WhichOneof("record_type") == "history":
                rows.append({item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in rec.history.item})
    return rows


def test_every_tracker_holds_the_runs_scalars_and_resume_continues_it(small, tmp_path):  # noqa: F811
    run = tmp_path / "run"
    _train(small, run, "--max-steps", 2)
    _train(small, run, "--resume", "--max-steps", 4)
    rows = metrics(run)
    assert [r["step"] for r in rows] == [2, 4]
    want_f1 = [(r["step"], r["f1"]) for r in rows]
    want_loss = {r["step"]: r["train_loss"] for r in rows}

    tb = _tensorboard(run)
    assert [s for s, _ in tb["train/loss"]] == [1, 2, 3, 4]  # each step once: the resume purged nothing it needed, doubled nothing
    assert [(s, round(v, 4)) for s, v in tb["eval/f1"]] == [(s, round(v, 4)) for s, v in want_f1]
    assert {s: round(v, 5) for s, v in tb["train/loss"] if s in want_loss} == {s: round(v, 5) for s, v in want_loss.items()}

    info = json.load(open(run / "run_info.json"))
    runs = info["tracker_runs"]
    assert set(runs) == {"wandb", "mlflow"}
    ml, params = _mlflow(run, runs["mlflow"])  # one MLflow run across both sessions
    assert [(s, pytest.approx(v)) for s, v in ml["eval/f1"]] == want_f1
    assert [s for s, _ in ml["train/loss"]] == [1, 2, 3, 4]
    assert params["lr"] == "0.001" and params["batch_size"] == "16"

    history = _wandb(run)
    # offline: a folder per session, all of one run id
    assert {os.path.basename(p).rsplit("-", 1)[-1] for p in glob.glob(str(run / "wandb" / "offline-run-*"))} == {runs["wandb"]}
    f1 = [(h["_step"], h["eval/f1"]) for h in history if "eval/f1" in h]
    assert [(s, pytest.approx(v)) for s, v in f1] == want_f1
    assert sorted(h["_step"] for h in history if "train/loss" in h) == [1, 2, 3, 4]


def test_a_missing_tracker_package_is_one_line(small, tmp_path):  # noqa: F811
    from tests.conftest import ALBERT_DIR

    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    # None in sys.modules is Python's own way to make an import fail: as if mlflow were not installed
    code = "import sys; sys.modules['mlflow'] = None; from albert_bench.cli import main; sys.exit(main(sys.argv[1:]))"
    r = subprocess.run([sys.executable, "-c", code, "train", "--model", str(ALBERT_DIR), "--init", "random", "--train-file", str(small / "train.json"),
                        "--dev-file", str(small / "dev.json"), "--run-dir", str(tmp_path / "r"), "--report-to", "tensorboard,mlflow"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip() == "error: --report-to mlflow: mlflow is not installed; pip install 'albert-bench[mlflow]', or drop it from --report-to"
    assert not (tmp_path / "r").exists()
