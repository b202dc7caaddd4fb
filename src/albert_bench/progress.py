"""Progress bars that suit where output goes: live on a terminal, a line every 30 s in a log file."""

import os
import sys


def bar(*args, **kw):
    from tqdm.auto import tqdm

    if os.environ.get("ALBERT_BENCH_QUIET"):
        kw["disable"] = True
    elif not sys.stderr.isatty():
        kw.setdefault("mininterval", 30.0)
    return tqdm(*args, **kw)
