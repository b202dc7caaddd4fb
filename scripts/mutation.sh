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
# Left out of the runs below, each far too slow to run once per mutant and not the owner of the module mutated:
# - tests that take the `trained` fixture, or train (test_formats' evaluate_gives_the_same_metrics and
#   train_on_a_dataset, test_files' one_writer_per_output, every_read_is_bounded and output_may_not_be_an_input):
#   the fixture's key hashes the source, so every mutant would train a model anew (~1.5 min, cached in ~/.cache);
# - test_formats' every_layout_gives_byte_identical_features (10 s: tokenizes the dev set three times) and
#   hub_dataset_unreachable (8 s: a subprocess waiting on a refused connection; data.py's hub path);
# - for formats only: the tests on the whole dev set converted to every layout (the `layouts` fixture, ~6 s a mutant:
#   squad_to_rows_and_back, rows_are_the_datasets_layout, every_layout_gives_the_same_stats) and those that go
#   through the `datasets` library (dataset_folder_loads, convert_from_a_dataset, train_refuses_a_split: data.py's
#   --dataset path). The same reading and writing is checked on small files by round_trip_keeps_repeated_titles,
#   layout_is_told_from_the_content, the hostile-row tests and the direct tests of sniff/iter_rows/count_rows/columns.
slow_formats="evaluate_gives_the_same_metrics or train_on_a_dataset or byte_identical_features or hub_dataset_unreachable"
formats_fast="not ($slow_formats or squad_to_rows_and_back or rows_are_the_datasets_layout or every_layout_gives_the_same_stats or dataset_folder_loads or convert_from_a_dataset or train_refuses_a_split)"
declare -A tests=(
  [metric]="tests/test_metric.py"
  [decode]="tests/test_decode.py"
  [features]="tests/test_features.py"
  [data]="tests/test_data.py tests/test_formats.py -k 'not ($slow_formats)'"
  [files]="tests/test_files.py -k 'not one_writer_per_output and not every_read_is_bounded and not output_may_not_be_or_hold'"
  [formats]="tests/test_formats.py -k '$formats_fast'"
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
