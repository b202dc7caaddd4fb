"""Two CPU processes (gloo) through torchrun, the launcher `accelerate launch` uses for DDP: disjoint data, one result.

(`accelerate launch --cpu --num_processes 2` starts a single process; torchrun sets the environment that
`Accelerator` reads to run MULTI_CPU with gloo.)"""

import json
import os
import subprocess
import sys

from conftest import metrics, train_args

def launch() -> list[str]:
    """torchrun on a free port: a fixed one collides when two suites run at once."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(port)]

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}


def test_two_processes_see_disjoint_data(tmp_path):
    out = tmp_path / "seen"
    r = subprocess.run([*launch(), os.path.join(os.path.dirname(__file__), "dist_check.py"), str(out), "40"], capture_output=True, text=True, env=ENV, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    ranks = [json.load(open(f"{out}.rank{i}")) for i in (0, 1)]
    assert {r["world"] for r in ranks} == {2} and ranks[0]["backend"] == "gloo"
    for epoch in ("0", "1"):
        a, b = set(ranks[0]["seen"][epoch]), set(ranks[1]["seen"][epoch])
        assert not a & b and a | b == set(range(40))
    assert ranks[0]["seen"]["0"] != ranks[0]["seen"]["1"]  # a new order each epoch


def test_two_process_training_saves_once(small, tmp_path):  # noqa: F811
    run = tmp_path / "ddp"
    args = train_args(small, run, "--epochs", 2, "--batch-size", 8, "--save-steps", 0, "--lr", 1e-3)
    r = subprocess.run([*launch(), "-m", "albert_bench", *map(str, args)], capture_output=True, text=True, env=ENV, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = metrics(run)
    assert [x["epoch"] for x in rows] == [1.0, 2.0]  # one evaluation per epoch, written by one process
    assert rows[-1]["step"] == 2 * 15  # 30 batches per epoch shared by 2 processes
    assert sorted(os.listdir(run / "checkpoints")) == ["step-00000015", "step-00000030"]
    ck = os.listdir(run / "checkpoints" / "step-00000030")
    assert "random_states_0.pkl" in ck and "random_states_1.pkl" in ck  # each process's RNG state, for resume
    assert not [n for n in os.listdir(run) if n.startswith(".tmp")]
    assert os.path.exists(run / "best" / "model.safetensors")
