"""Two CPU processes (gloo) through torchrun, the launcher `accelerate launch` uses for DDP: disjoint data, one result.

(`accelerate launch --cpu --num_processes 2` starts a single process; torchrun sets the environment that
`Accelerator` reads to run MULTI_CPU with gloo.)"""

import json
import os
import subprocess
import sys

import pytest

from albert_bench.cli import main
from conftest import metrics, train_args

def launch(processes: int = 2) -> list[str]:
    """torchrun on a free port: a fixed one collides when two suites run at once."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(processes), "--master_port", str(port)]

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


def test_two_process_training_saves_once_and_evaluates_as_one_process_would(small, tmp_path):  # noqa: F811
    run = tmp_path / "ddp"
    # 60 dev windows in batches of 7: 9 batches, dealt 5 and 4 to the two processes
    args = train_args(small, run, "--epochs", 2, "--batch-size", 8, "--save-steps", 0, "--lr", 1e-3, "--eval-batch-size", 7)
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

    # Each epoch's evaluation was shared by the two processes: what one process computes from best/ is the same to
    # the last bit — every window's logits (so the null odds and best spans), the metric keys, the eval loss.
    import torch

    from albert_bench.data import load_squad
    from albert_bench.decode import DecodeConfig, decode
    from albert_bench.features import FeatureConfig, build_features
    from albert_bench.metric import squad_v2_evaluate
    from albert_bench.model import infer, load_model

    torch.set_num_threads(1)  # as the launched processes ran
    saved = json.load(open(run / "best" / "dev_predictions.json"))
    row = next(x for x in rows if x["step"] == saved["step"])
    model, tok = load_model(str(run / "best"))
    dev = load_squad(str(small / "dev.json"))
    feats = build_features(dev.examples, tok, FeatureConfig(128, 32))
    starts, ends, loss = infer(model, tok, feats, 7, with_loss=True)
    dec = decode(dev.examples, feats, starts, ends, DecodeConfig())
    assert dec.null_odds == saved["null_odds"] and dec.best_text == saved["best_text"]
    assert loss == row["eval_loss"]
    m = squad_v2_evaluate(dev.data, dec.best_text, dec.null_odds, na_prob_thresh=0.0)
    assert {k: row[k] for k in m} == m


def _evaluate(model: str, data, out, processes: int, batch_size: int) -> subprocess.CompletedProcess:
    cmd = ["-m", "albert_bench", "evaluate", "--model", model, "--data", str(data), "--out", str(out), "--batch-size", str(batch_size)]
    return subprocess.run([*(launch(processes) if processes > 1 else [sys.executable]), *cmd], capture_output=True, text=True, env=ENV, timeout=600)


@pytest.fixture(scope="module")
def one_process(trained, tmp_path_factory):
    """The one-process evaluation of the first `questions` questions at `batch_size`, run once for every test that
    compares against it (each is a process start: seconds on 2 cores)."""
    run, data = trained
    done = {}

    def get(questions: int, batch_size: int):
        if (questions, batch_size) not in done:
            d = tmp_path_factory.mktemp(f"one-{questions}-{batch_size}")
            dev = json.load(open(data / "dev.json"))
            kept, n = [], 0
            for p in (p for a in dev["data"] for p in a["paragraphs"]):  # whole paragraphs, up to `questions` questions
                if n >= questions:
                    break
                kept.append({**p, "qas": p["qas"][: questions - n]})
                n += len(kept[-1]["qas"])
            (d / "dev.json").write_text(json.dumps({"version": "v2.0", "data": [{"title": "t", "paragraphs": kept}]}))
            # in this process, with one torch thread as each launched process has: an interpreter start saved
            import torch

            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                assert main(["evaluate", "--model", str(run / "best"), "--data", str(d / "dev.json"), "--out", str(d / "one"),
                             "--batch-size", str(batch_size)]) == 0
            finally:
                torch.set_num_threads(threads)
            done[questions, batch_size] = d
        return done[questions, batch_size]

    return get


@pytest.mark.parametrize("processes, questions, batch_size", [
    (3, 30, 4),  # uneven shares: the batches do not divide by the 3 processes
    (2, 1, 64),  # more processes than questions (and than batches): one of them runs nothing
])
def test_evaluate_across_processes_writes_what_one_process_writes(trained, one_process, tmp_path, processes, questions, batch_size):
    run, _ = trained
    d = one_process(questions, batch_size)
    small_dev, one, many = d / "dev.json", d / "one", tmp_path / "many"
    rn = _evaluate(str(run / "best"), small_dev, many, processes, batch_size)
    assert rn.returncode == 0, rn.stderr[-2000:]
    for name in ("predictions.json", "null_odds.json", "nbest.json"):
        assert (one / name).read_text() == (many / name).read_text(), name
    m1, mn = json.load(open(one / "metrics.json")), json.load(open(many / "metrics.json"))
    assert m1["evaluated"].pop("processes") == 1 and mn["evaluated"].pop("processes") == processes
    assert m1 == mn and m1["total"] == questions
    assert rn.stdout.count('"exact"') == 1  # the metrics printed once, by process 0


def test_a_process_that_dies_mid_evaluation_ends_the_run_in_one_line_without_a_hang(trained, tmp_path):
    """Two processes started as a multi-node run starts them (each on its own, no launcher to stop the other):
    SIGKILL one while they evaluate, and the other ends at once with one line (no wait for the process group's
    30-minute timeout, no traceback)."""
    import signal
    import socket
    import time

    run, data = trained
    dev = json.load(open(data / "dev.json"))
    paragraphs = [{**p, "qas": [{**q, "id": f"{q['id']}-{k}"} for q in p["qas"]]} for k in range(5) for a in dev["data"] for p in a["paragraphs"]]
    (tmp_path / "dev.json").write_text(json.dumps({"version": "v2.0", "data": [{"title": "t", "paragraphs": paragraphs}]}))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "albert_bench", "evaluate", "--model", str(run / "best"), "--data", str(tmp_path / "dev.json"),
           "--out", str(tmp_path / "out"), "--batch-size", "1"]
    env = {k: v for k, v in ENV.items() if k != "ALBERT_BENCH_QUIET"}  # process 0's progress bar says when it evaluates
    env.update(WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), LOCAL_WORLD_SIZE="2")
    err0 = open(tmp_path / "err0", "w+")
    procs = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err0 if rank == 0 else subprocess.DEVNULL, text=True,
                              env={**env, "RANK": str(rank), "LOCAL_RANK": str(rank)}) for rank in (0, 1)]
    try:
        for _ in range(1200):  # until process 0 is evaluating (its progress bar shows the eval batches)
            if "eval:" in (tmp_path / "err0").read_text() or procs[0].poll() is not None:
                break
            time.sleep(0.1)
        assert procs[0].poll() is None, (tmp_path / "err0").read_text()
        procs[1].send_signal(signal.SIGKILL)
        t = time.monotonic()
        rc = procs[0].wait(timeout=300)
        waited = time.monotonic() - t
    finally:
        for p in procs:
            p.kill()
    err = (tmp_path / "err0").read_text()
    assert rc == 2 and waited < 120, (rc, waited, err[-2000:])  # not the 30-minute process group timeout
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: process 0 of 2: another process stopped during the evaluation"), err[-2000:]
    assert "Traceback" not in err
    assert not (tmp_path / "out" / "metrics.json").exists()
