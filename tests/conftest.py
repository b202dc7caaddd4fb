"""Shared fixtures. Real files are read in place from $ALBERT_BENCH_DATA (default: ../shared/data)."""

import os
from pathlib import Path

import pytest

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
