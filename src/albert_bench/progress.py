"""Progress bars that suit where output goes: live on a terminal, a line every 30 s in a log file."""

import os
import sys


def quiet_libraries() -> None:
    """Silence transformers' and huggingface_hub's own bars and info chatter ("Loading weights", "Writing model
    shards", download retries): albert-bench shows its own progress. `--verbose` (ALBERT_BENCH_VERBOSE=1) keeps them."""
    if os.environ.get("ALBERT_BENCH_VERBOSE"):
        return
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:
        pass
    try:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    except ImportError:
        pass


def bar(*args, **kw):
    from tqdm.auto import tqdm

    if os.environ.get("ALBERT_BENCH_QUIET"):
        kw["disable"] = True
    elif not sys.stderr.isatty():
        kw.setdefault("mininterval", 30.0)
    return tqdm(*args, **kw)
