#!/usr/bin/env bash
# Mutation testing of the core modules (DEVELOPERS.md "Mutation testing"): each module is mutated by mutmut 2
# (pinned in constraints.txt) and run against the tests that own it. A habit before changing a core module, not a CI
# step: the whole set takes about an hour on 2 cores. It works on a copy of the working tree, because mutmut edits
# the source in place and an interrupted run must not leave a mutant in yours. Never beside another PyTorch job.
#   bash scripts/mutation.sh [module ...]     (default: every module below)
# Each module's survivors, as diffs, go to .mutation/<module>.txt; the tally to .mutation/summary.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
py=$repo/.venv/bin/python
export ALBERT_BENCH_DATA="${ALBERT_BENCH_DATA:-$(cd .. && pwd)/shared/data}"
declare -A tests=(
  [metric]="tests/test_metric.py"
  [decode]="tests/test_decode.py"
  [features]="tests/test_features.py"
  [data]="tests/test_data.py tests/test_formats.py"
  [files]="tests/test_files.py"
  [formats]="tests/test_formats.py"
  [rundir]="tests/test_rundir.py"
  [serve]="tests/test_serve.py -k 'not web_page and not docs'"
)
mods=("$@")
[ ${#mods[@]} = 0 ] && mods=(metric decode rundir formats files data features serve)
mkdir -p .mutation
for m in "${mods[@]}"; do
  [ -n "${tests[$m]:-}" ] || { echo "mutation.sh: no tests named for module '$m' (known: ${!tests[*]})" >&2; exit 2; }
  work=$(mktemp -d /tmp/albert-bench-mutation-XXXXXX)
  git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -xf - -C "$work"
  cp scripts/mutation/mutmut_config.py "$work/"
  # PYTHONPATH puts the mutated copy before the editable install; one thread, as the suite's xdist workers run
  runner="env PYTHONPATH=$work/src OMP_NUM_THREADS=1 $py -m pytest -x -q -p no:cacheprovider -p no:xdist --hypothesis-seed=0 --timeout=300 ${tests[$m]}"
  echo "== $m: mutating src/albert_bench/$m.py against ${tests[$m]}" >&2
  (cd "$work" && "$repo/.venv/bin/mutmut" run --paths-to-mutate "src/albert_bench/$m.py" --tests-dir tests \
      --runner "$runner" --no-progress >/dev/null 2>&1 || true)
  (cd "$work" && "$repo/.venv/bin/mutmut" results > "$repo/.mutation/$m.results" 2>&1 || true
   "$repo/.venv/bin/mutmut" show all > "$repo/.mutation/$m.txt" 2>&1 || true
   cp .mutmut-cache "$repo/.mutation/$m.sqlite")
  rm -rf "$work"
done
"$py" scripts/mutation/summary.py .mutation > .mutation/summary.txt && cat .mutation/summary.txt
