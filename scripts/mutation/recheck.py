"""Re-test only the survivors of a module's last mutation run against the tests as they are now: the loop of
reading a survivor, writing the test that kills it, and checking, without re-running every mutant (mutmut 2 starts
over whenever a test file changes).

    .venv/bin/python scripts/mutation/recheck.py MODULE      (after bash scripts/mutation.sh MODULE)
    .venv/bin/python scripts/mutation/recheck.py MODULE --finish   (after a stopped run: copy its work folder's
        .mutmut-cache to .mutation/MODULE.sqlite; the mutants it left untested are run first, with the same hook)

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


def survivors(module: str, statuses=("bad_survived", "bad_timeout")) -> list[tuple[int, str, int, int]]:
    db = REPO / ".mutation" / f"{module}.sqlite"
    if not db.exists():
        raise SystemExit(f"recheck: {db} is missing; run bash scripts/mutation.sh {module} first")
    c = sqlite3.connect(db)
    marks = ",".join("?" * len(statuses))
    return list(c.execute("select m.id, l.line, l.line_number, m.'index' from Mutant m join Line l on m.line = l.id "
                          f"where m.status in ({marks}) order by m.id", statuses))


class _Hook:
    """What mutmut hands its pre_mutation hook, for the mutants a stopped run left untested."""

    def __init__(self, rel: str, source: str, line: str, line_number: int, index: int):
        self.filename, self.current_line_index, self.current_source_line = rel, line_number, source.splitlines()[line_number]
        self.mutation_id = RelativeMutationID(line=line, index=index, line_number=line_number)
        self.config = type("Config", (), {"test_command": ""})()
        self.skip = False


def finish(module: str, rel: str, source: str, run_one) -> tuple[str, set]:
    """Run the mutants a stopped mutation.sh run left untested (those its hook would not skip), with the same test
    selection, and store each outcome in .mutation/MODULE.sqlite as mutmut would have: the run completed."""
    import mutmut_config

    db = sqlite3.connect(REPO / ".mutation" / f"{module}.sqlite")
    killed = survived = skipped = 0
    alive = set()  # survivors of this pass: tested against the tests of now already
    rows = survivors(module, ("untested",))
    here = source.splitlines()
    for n, (mid, line, line_number, index) in enumerate(rows, 1):
        found = sorted((i for i, text in enumerate(here) if text == line), key=lambda i: abs(i - line_number))
        if not found:  # the line changed since the run: its mutants are not this code's
            continue
        hook = _Hook(rel, source, line, found[0], index)
        mutmut_config.pre_mutation(hook)
        if hook.skip:
            status = "skipped"
            skipped += 1
        else:
            mutated, _ = mutate(Context(source=source, mutation_id=hook.mutation_id, filename=rel))
            status = "ok_killed" if run_one(mutated, found[0]) else "bad_survived"
            killed += status == "ok_killed"
            survived += status == "bad_survived"
            if status == "bad_survived":
                alive.add(mid)
        db.execute("update Mutant set status = ? where id = ?", (status, mid))
        db.commit()
        print(f"\r{n}/{len(rows)} untested: {killed} killed, {survived} survived, {skipped} skipped", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return f"{module}: finished the stopped run: {killed + survived} mutants run, {killed} killed, {survived} survived ({skipped} skipped by the hook)", alive


def main(module: str, finish_run: bool = False) -> None:
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
        Path(work, ".mutation-coveragerc").write_text("[run]\nsource = src/albert_bench\ndata_file = .mutation-coverage\n")
        shutil.copy2(REPO / "scripts" / "mutation" / "test_contexts.py", work)
        # what mutation.sh gives the hook: the run's sample (for --finish) and a runner (replaced by `cmd` here)
        sample = REPO / ".mutation" / f"{module}.sample"
        Path(work, ".mutation-sample").write_text(sample.read_text() if sample.exists() else "1")
        Path(work, ".mutation-runner").write_text("pytest")
        env = {**os.environ, "PYTHONPATH": os.path.join(work, "src"), "OMP_NUM_THREADS": "1",
               "ALBERT_BENCH_DATA": os.environ.get("ALBERT_BENCH_DATA", str(REPO.parent / "shared" / "data"))}
        cmd = ["prlimit", "--as=8000000000", sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:schemathesis", "-p", "no:anyio",
               "--assert=plain", "--hypothesis-seed=0", "--timeout=30"]
        # which tests execute each line (as mutation.sh records it): a survivor first runs those, fastest first,
        # and only if it outlives them the whole selection
        subprocess.run(["bash", "-c", f"{sys.executable} -m coverage run --rcfile=.mutation-coveragerc -m pytest -q -p no:cacheprovider "
                        f"-p no:xdist -p test_contexts --hypothesis-seed=0 --junitxml=.mutation-junit.xml {tests}"], cwd=work,
                       env={**env, "PYTHONPATH": os.path.join(work, "src") + os.pathsep + work}, capture_output=True)
        subprocess.run([sys.executable, str(REPO / "scripts" / "mutation" / "coverage_map.py"), ".mutation-coverage", rel, ".mutation-tests.json",
                        ".mutation-junit.xml"], cwd=work, env=env, check=True, capture_output=True)
        sys.path.insert(0, str(REPO / "scripts" / "mutation"))
        import mutmut_config

        os.chdir(work)

        def run_one(mutated: str, line_number: int) -> bool:
            """Whether the tests kill this mutant: first those that execute its line (fastest first), then the rest."""
            Path(work, rel).write_text(mutated)
            first = mutmut_config._tests_for(rel, line_number)
            try:
                for run in ([[*cmd, *first]] if first else []) + [[*cmd, *shlex.split(tests)]]:
                    if subprocess.run(run, cwd=work, env=env, capture_output=True, timeout=600).returncode != 0:
                        return True
                return False
            except subprocess.TimeoutExpired:
                return True  # a hang is caught by the suite's per-test limit in CI
            finally:
                Path(work, rel).write_text(source)

        finished, just_run = finish(module, rel, source, run_one) if finish_run else ("", set())
        if finished:
            print(finished, file=sys.stderr)
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
            if mid in just_run or not run_one(mutated, line_number):
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
                   + (finished + "\n\n" if finished else "")
                   + "\n".join(lines) + "\n\nequivalent (scripts/mutation/equivalent.json):\n" + "\n".join(equivalent)
                   + "\n\nchanged since the run (run the module again to test what replaced them):\n" + "\n".join(gone) + "\n")
    print(out.read_text().splitlines()[0])


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--finish"]
    if len(args) != 1:
        raise SystemExit("usage: recheck.py MODULE [--finish]   (--finish: first run the mutants a stopped mutation.sh run left untested)")
    main(args[0], finish_run="--finish" in sys.argv[1:])
