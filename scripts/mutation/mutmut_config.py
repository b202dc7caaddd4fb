"""mutmut 2's hook (scripts/mutation.sh copies it into the tree it mutates): which lines are mutated.

serve.py is mutated only in its request handling (what a request may be, its limits, its errors, the host check,
the turns of the micro-batcher) — the app's wiring and uvicorn's setup are exercised by test_serve's live servers,
too slow to run once per mutant."""

import ast
import os

SERVE_REQUEST_HANDLING = {"_no_surrogates", "_json_integer", "_not_blank", "_text", "request_models", "utf16_index",
                          "with_utf16", "MicroBatcher", "host_name", "is_loopback", "default_allowed_hosts", "Guard",
                          "_describe", "_parse_request_json"}


def _ranges(path, names):
    tree = ast.parse(open(path).read())
    return [(n.lineno - 1, n.end_lineno - 1) for n in tree.body
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name in names]


_SERVE = None


def pre_mutation(context):
    global _SERVE
    if os.path.basename(context.filename) == "serve.py":
        if _SERVE is None:
            _SERVE = _ranges(context.filename, SERVE_REQUEST_HANDLING)
        if not any(lo <= context.current_line_index <= hi for lo, hi in _SERVE):
            context.skip = True
