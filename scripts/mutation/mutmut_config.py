"""mutmut 2's hook (scripts/mutation.sh copies it into the tree it mutates): which lines are mutated, and which tests
run against each mutant.

Which tests: first only those that execute the function the mutant is in (recorded once per module by
scripts/mutation/coverage_map.py, from a coverage run of the module's test selection with one context per test);
mutmut's --rerun-all then runs the module's whole selection on a mutant that survived them, so a test that reaches
the function only through a subprocess (which coverage does not attribute to a test) still counts. A mutant outside
any function (a constant, a decorator, a class body, a signature), or in one that no test executes in-process, runs
the whole selection. This makes a killed mutant cost one pytest start and a few tests instead of the whole
selection (mutmut 2 lets this hook replace `config.test_command`, and restores it after each mutant).

Which lines: serve.py only in its request handling (what a request may be, its limits, its errors, the host check,
the turns of the micro-batcher) — the app's wiring and uvicorn's setup are exercised by test_serve's live servers,
too slow to run once per mutant. data.py in everything but its download path (`resolve` and what only it uses),
which test_files' downloads from a live trickling server check at 2-5 s a test."""

import ast
import hashlib
import json
import os
import shlex

SERVE_REQUEST_HANDLING = {"_no_surrogates", "_json_integer", "_not_blank", "_text", "request_models", "utf16_index",
                          "with_utf16", "MicroBatcher", "host_name", "is_loopback", "default_allowed_hosts", "Guard",
                          "_describe", "_parse_request_json"}
DATA_DOWNLOAD_PATH = {"default_cache_dir", "_sigterm_as_interrupt", "resolve", "_download_check"}
SAMPLE = ".mutation-sample"  # N: mutate one mutant in N (MUTATION_SAMPLE in mutation.sh), chosen by a hash of its line and index
TESTS_BY_LINE = ".mutation-tests.json"  # written by coverage_map.py: {"line": ["tests/x.py::test_y", ...]}
BASE_RUNNER = ".mutation-runner"  # the runner without its test selection (mutation.sh)

_CACHE = {}


def _top_level(path, names):
    tree = ast.parse(open(path).read())
    return [(n.lineno - 1, n.end_lineno - 1) for n in tree.body
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name in names]


def _functions(path):
    """(first, last) 0-based line of every function, innermost last when sorted by start."""
    tree = ast.parse(open(path).read())
    return sorted((n.lineno - 1, n.end_lineno - 1) for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))


def _get(key, make):
    if key not in _CACHE:
        _CACHE[key] = make()
    return _CACHE[key]


def _tests_for(path, line):
    """The tests to run for a mutant on 0-based `line`: None (or none found) = the whole selection."""
    tests_by_line = _get("map", lambda: {int(k): v for k, v in json.load(open(TESTS_BY_LINE)).items()})
    inside = [(lo, hi) for lo, hi in _get(("functions", path), lambda: _functions(path)) if lo <= line <= hi]
    if not inside:
        return None
    lo, hi = inside[-1]  # the innermost function: its body runs only when a test calls it
    if line == lo:  # the def line itself (a default value, the signature) is evaluated at import
        return None
    return sorted({t for n in range(lo + 1, hi + 2) for t in tests_by_line.get(n, ())})


def _sampled_out(context) -> bool:
    n = _get("sample", lambda: int(open(SAMPLE).read()) if os.path.exists(SAMPLE) else 1)
    if n <= 1:
        return False
    mid = context.mutation_id
    key = f"{os.path.basename(context.filename)}:{mid.line_number}:{mid.index}:{mid.line.strip()}".encode()
    return int(hashlib.sha256(key).hexdigest(), 16) % n != 0


def pre_mutation(context):
    kind = os.path.basename(context.filename)
    line = context.current_line_index
    if _sampled_out(context):
        context.skip = True
        return
    if kind == "serve.py":  # only these
        if not any(lo <= line <= hi for lo, hi in _get("serve", lambda: _top_level(context.filename, SERVE_REQUEST_HANDLING))):
            context.skip = True
            return
    elif kind == "data.py":  # all but these (and the download limits read from the environment)
        if context.current_source_line.lstrip().startswith(("DOWNLOAD_SECONDS", "DOWNLOAD_MAX_BYTES")) or \
                any(lo <= line <= hi for lo, hi in _get("data", lambda: _top_level(context.filename, DATA_DOWNLOAD_PATH))):
            context.skip = True
            return
    if not os.path.exists(TESTS_BY_LINE):
        return
    tests = _tests_for(context.filename, line)
    everything = _get("all tests", lambda: {t for v in json.load(open(TESTS_BY_LINE)).values() for t in v})
    # most of the selection anyway (code every request or every app goes through): the whole selection at once,
    # so that a survivor is not run twice (--rerun-all reruns only a mutant whose command this hook replaced)
    if tests and len(tests) < 0.75 * len(everything):
        runner = open(BASE_RUNNER).read().strip()
        context.config.test_command = runner + " " + " ".join(shlex.quote(t) for t in tests)
