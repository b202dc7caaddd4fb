"""What a run reports to and runs on: accelerate's trackers (TensorBoard, wandb, MLflow) for `train`, and the
hardware description every figure is recorded with (run_info.json, the model card, benchmarks/RESULTS.md)."""

from __future__ import annotations

import os
from dataclasses import asdict

from . import rundir
from .errors import BenchError


def describe_hardware() -> str:
    """CPU model and cores, GPU if any, and the library versions: what a figure from this run ran on."""
    import platform

    import torch
    import transformers

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), cpu)
    except OSError:
        pass
    gpu = f", GPU {torch.cuda.get_device_name(0)} ×{torch.cuda.device_count()}" if torch.cuda.is_available() else ", no GPU"
    return f"{cpu}, {os.cpu_count()} cores{gpu}; Python {platform.python_version()}, torch {torch.__version__}, transformers {transformers.__version__}"


TRACKERS = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow"}  # --report-to name: the module it needs


def report_targets(report_to: str) -> list[str]:
    """The trackers `--report-to` names, checked: known, and their package installed (wandb and MLflow are extras)."""
    import importlib

    targets = [t.strip() for t in report_to.split(",") if t.strip() and t.strip() != "none"]
    unknown = sorted(set(targets) - set(TRACKERS))
    if unknown:
        raise BenchError(f"--report-to: unknown target(s) {', '.join(unknown)}; use tensorboard, wandb, mlflow or none")
    for t in targets:
        try:
            importlib.import_module(TRACKERS[t])
        except ImportError:
            raise BenchError(f"--report-to {t}: {t} is not installed; pip install 'albert-bench[{t}]', or drop it from --report-to") from None
    return list(dict.fromkeys(targets))


def start(cfg, acc, step: int) -> None:
    """accelerate's own trackers, built here because each wants its own name and, on resume, its run back:
    TensorBoard in RUN/tb (events after `step` purged: a resumed run logs no step twice and loses none), wandb in RUN/wandb
    (WANDB_MODE=offline works), MLflow in RUN/mlruns unless MLFLOW_TRACKING_URI names a server."""
    from accelerate.tracking import MLflowTracker, TensorBoardTracker, WandBTracker

    ids = (rundir.read(cfg.run_dir, rundir.RUN_INFO) or {}).get("tracker_runs", {})
    trackers = []
    for t in report_targets(cfg.report_to):
        if t == "tensorboard":
            # events logged after the checkpoint of `step` are purged; `step` itself was logged and stays
            trackers.append(TensorBoardTracker(rundir.TENSORBOARD, cfg.run_dir, purge_step=step + 1 if step else None))
        elif t == "wandb":
            trackers.append(WandBTracker("albert-bench", dir=cfg.run_dir, name=os.path.basename(os.path.abspath(cfg.run_dir)),
                                         id=ids.get("wandb"), resume="allow"))
        elif t == "mlflow":
            if not os.environ.get("MLFLOW_TRACKING_URI"):
                import mlflow

                # MLflow 3 keeps a local file store only when asked: the run directory holds everything of the run
                os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
                mlflow.set_tracking_uri("file:" + os.path.abspath(rundir.path(cfg.run_dir, rundir.MLFLOW)))
            trackers.append(MLflowTracker("albert-bench", run_id=ids.get("mlflow"), run_name=os.path.basename(os.path.abspath(cfg.run_dir))))
    if not trackers:
        return
    acc.log_with = trackers
    # Hyperparameters as the trackers take them (no None: TensorBoard's hparams refuse it), once: MLflow refuses a
    # changed parameter in a resumed run, and what a resume changed is in run_info.json.
    acc.init_trackers("albert-bench", config=None if step else {k: v for k, v in asdict(cfg).items() if v is not None})
    if acc.is_main_process:
        runs = {}
        for tr in acc.trackers:
            if tr.name == "wandb":
                runs["wandb"] = tr.run.id
            elif tr.name == "mlflow":
                runs["mlflow"] = tr.active_run.info.run_id
        if runs and {**ids, **runs} != ids:  # the ids a resumed run continues (kept for trackers this session left out)
            info = rundir.read(cfg.run_dir, rundir.RUN_INFO) or {}
            info["tracker_runs"] = {**ids, **runs}
            rundir.write(cfg.run_dir, rundir.RUN_INFO, obj=info)


def finish(acc) -> None:
    """Flush and close every tracker, also when training stops early (a signal, an error)."""
    if acc.is_main_process:
        for tr in acc.trackers:
            tr.finish()
    acc.trackers = []  # end_training would finish them again
