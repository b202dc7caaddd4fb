"""Re-test only the survivors of a module's last mutation run against the tests as they are now: the loop of
reading a survivor, writing the test that kills it, and checking, without re-running every mutant (mutmut 2 starts
over whenever a test file changes).

    .venv/bin/python scripts/mutation/recheck.py MODULE      (after bash scripts/mutation.sh MODULE)

Reads .mutation/MODULE.sqlite (mutmut's cache, copied there by mutation.sh), applies each surviving mutant to a
scratch copy of the tree, runs the module's whole test selection (as mutation.sh names it) and writes
.mutation/MODULE.recheck.txt: each mutant still alive, as a one-line diff, apart from those that
scripts/mutation/equivalent.json lists as equivalent (no test can tell them from the code: the reason is written
there, keyed by the line and its mutant). Never beside another PyTorch job."""

from __future__ import annotations

import ast
import json
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

from mutmut import Context, RelativeMutationID, mutate

REPO = Path(__file__).resolve().parents[2]


def selection(module: str) -> str:
    """The module's test selection, as scripts/mutation.sh spells it (its variables expanded by bash)."""
    script = (REPO / "scripts" / "mutation.sh").read_text()
    head = script[: script.index("mods=(")]  # the variables and the table, nothing that runs
    out = subprocess.run(["bash", "-c", head.split("set -euo pipefail", 1)[1].replace('cd "$(dirname "$0")/.."', "")
                          + f'\nprintf "%s" "${{tests[{module}]}}"'], capture_output=True, text=True, cwd=REPO)
    if not out.stdout:
        raise SystemExit(f"recheck: no tests named for module {module!r} in scripts/mutation.sh")
    return out.stdout


def survivors(module: str) -> list[tuple[int, str, int, int]]:
    db = REPO / ".mutation" / f"{module}.sqlite"
    if not db.exists():
        raise SystemExit(f"recheck: {db} is missing; run bash scripts/mutation.sh {module} first")
    c = sqlite3.connect(db)
    return list(c.execute("select m.id, l.line, l.line_number, m.'index' from Mutant m join Line l on m.line = l.id "
                          "where m.status in ('bad_survived', 'bad_timeout') order by m.id"))


def main(module: str) -> None:
    tests = selection(module)
    rel = f"src/albert_bench/{module}.py"
    source = (REPO / rel).read_text()
    known = json.loads((REPO / "scripts" / "mutation" / "equivalent.json").read_text()).get(module, {})
    alive, lines, equivalent = 0, [], []
    with tempfile.TemporaryDirectory(prefix="albert-bench-recheck-") as work:
        files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True, text=True).stdout.split("\n")
        for f in filter(None, files):
            if (REPO / f).is_file():
                os.makedirs(os.path.dirname(os.path.join(work, f)) or work, exist_ok=True)
                shutil.copy2(REPO / f, os.path.join(work, f))
        Path(work, ".mutation-coveragerc").write_text("[run]\ndynamic_context = test_function\nsource = src/albert_bench\ndata_file = .mutation-coverage\n")
        env = {**os.environ, "PYTHONPATH": os.path.join(work, "src"), "OMP_NUM_THREADS": "1",
               "ALBERT_BENCH_DATA": os.environ.get("ALBERT_BENCH_DATA", str(REPO.parent / "shared" / "data"))}
        cmd = ["prlimit", "--as=8000000000", sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:schemathesis", "-p", "no:anyio",
               "--assert=plain", "--hypothesis-seed=0", "--timeout=60"]
        # which tests execute each line (as mutation.sh records it): a survivor first runs those, fastest first,
        # and only if it outlives them the whole selection
        subprocess.run(["bash", "-c", f"{sys.executable} -m coverage run --rcfile=.mutation-coveragerc -m pytest -q -p no:cacheprovider "
                        f"-p no:xdist --hypothesis-seed=0 --junitxml=.mutation-junit.xml {tests}"], cwd=work, env=env, capture_output=True)
        subprocess.run([sys.executable, str(REPO / "scripts" / "mutation" / "coverage_map.py"), ".mutation-coverage", rel, ".mutation-tests.json",
                        ".mutation-junit.xml"], cwd=work, env=env, check=True, capture_output=True)
        sys.path.insert(0, str(REPO / "scripts" / "mutation"))
        import mutmut_config

        os.chdir(work)
        rows = survivors(module)
        here = source.splitlines()
        gone = []
        defs = sorted((n.lineno - 1, n.end_lineno - 1, n.name) for n in ast.walk(ast.parse(source))
                      if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))

        def where(i: int) -> str:  # the innermost function or class holding line i, or the module
            return ([name for lo, hi, name in defs if lo <= i <= hi] or ["<module>"])[-1]
        for n, (mid, line, line_number, index) in enumerate(rows, 1):
            # the module may have changed since the run (lines added above): the same line, nearest its old place
            found = sorted((i for i, text in enumerate(here) if text == line), key=lambda i: abs(i - line_number))
            if not found:
                gone.append(f"{mid} L{line_number + 1}: {line.strip()[:120]} (the line is no longer in the module)")
                continue
            line_number = found[0]
            ctx = Context(source=source, mutation_id=RelativeMutationID(line=line, index=index, line_number=line_number), filename=rel)
            mutated, _ = mutate(ctx)
            if mutated == source:
                gone.append(f"{mid} L{line_number + 1}: {line.strip()[:120]} (the mutant no longer applies)")
                continue
            Path(work, rel).write_text(mutated)
            first = mutmut_config._tests_for(rel, line_number)
            try:
                killed = False
                for run in ([[*cmd, *first]] if first else []) + [[*cmd, *shlex.split(tests)]]:
                    r = subprocess.run(run, cwd=work, env=env, capture_output=True, timeout=600)
                    if r.returncode != 0:
                        killed = True
                        break
            except subprocess.TimeoutExpired:
                killed = True  # a hang is caught by the suite's per-test limit in CI
            finally:
                Path(work, rel).write_text(source)
            if not killed:
                new = next((b for a, b in zip(source.splitlines(), mutated.splitlines()) if a != b), "(a line removed)")
                key = f"{where(line_number)}: {line.strip()} -> {new.strip()}"  # wherever the line has moved
                if key in known:
                    equivalent.append(f"{key}\n    ({known[key]})")
                    continue
                alive += 1
                lines.append(f"{mid} L{line_number + 1}: {line.strip()[:120]}\n    -> {new.strip()[:120]}\n    key: {json.dumps(key)}")
            print(f"\r{n}/{len(rows)} rechecked, {alive} alive", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    out = REPO / ".mutation" / f"{module}.recheck.txt"
    out.write_text(f"{module}: {alive} of {len(rows)} survivors still alive against the tests of now, {len(equivalent)} equivalent, {len(gone)} changed\n\n"
                   + "\n".join(lines) + "\n\nequivalent (scripts/mutation/equivalent.json):\n" + "\n".join(equivalent)
                   + "\n\nchanged since the run (run the module again to test what replaced them):\n" + "\n".join(gone) + "\n")
    print(out.read_text().splitlines()[0])


if __name__ == "__main__":
    main(sys.argv[1])
