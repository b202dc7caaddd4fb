#!/usr/bin/env bash
# Mutation testing of the core modules (DEVELOPERS.md "Mutation testing"): each module is mutated by mutmut 2
# (pinned in constraints.txt) and run against the tests that own it. A habit before changing a core module, not a CI
# step: the whole set takes about an hour on 2 cores. It works on a copy of the working tree, because mutmut edits
# the source in place and an interrupted run must not leave a mutant in yours. Never beside another PyTorch job.
#   bash scripts/mutation.sh [module ...]     (default: every module below)
#   MUTATION_SAMPLE=3 bash scripts/mutation.sh data   (one mutant in 3, the same ones every run: an estimate of the
#                                                      kill rate in a third of the time; summary.txt says so)
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
# - for files only: the downloads from a live trickling server (2-5 s each; they check data.py's download path, which
#   the data run leaves out too: scripts/mutation/mutmut_config.py).
files_slow="one_writer_per_output or every_read_is_bounded or output_may_not_be_or_hold or downloads_are_bounded or stopped_by_sigterm or bad_downloads or cache_is_keyed"
slow_formats="evaluate_gives_the_same_metrics or train_on_a_dataset or byte_identical_features or hub_dataset_unreachable"
formats_fast="not ($slow_formats or squad_to_rows_and_back or rows_are_the_datasets_layout or every_layout_gives_the_same_stats or dataset_folder_loads or convert_from_a_dataset or train_refuses_a_split)"
declare -A tests=(
  [metric]="tests/test_metric.py"
  [decode]="tests/test_decode.py"
  [features]="tests/test_features.py"
  [data]="tests/test_data.py tests/test_formats.py -k 'not ($slow_formats)'"
  [files]="tests/test_files.py -k 'not ($files_slow)'"
  [formats]="tests/test_formats.py -k '$formats_fast'"
  [rundir]="tests/test_rundir.py"
  [serve]="tests/test_serve.py tests/test_passages.py -k 'not web_page and not docs'"
)
mods=("$@")
[ ${#mods[@]} = 0 ] && mods=(metric decode rundir formats files data features serve)
mkdir -p .mutation
for m in "${mods[@]}"; do
  [ -n "${tests[$m]:-}" ] || { echo "mutation.sh: no tests named for module '$m' (known: ${!tests[*]})" >&2; exit 2; }
  work=$(mktemp -d /tmp/albert-bench-mutation-XXXXXX)
  git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -xf - -C "$work"
  cp scripts/mutation/mutmut_config.py scripts/mutation/test_contexts.py "$work/"
  # PYTHONPATH puts the mutated copy before the editable install; one thread, as the suite's xdist workers run
  # --assert=plain and no schemathesis/anyio plugin: pytest starts in 0.6 s instead of 2.5 (it would rewrite the
  # asserts of every module of those plugins first); a failing assert still fails
  # prlimit: a mutant that loops while allocating (a search that never ends) fails at 8 GB instead of taking the machine
  base="env PYTHONPATH=$work/src OMP_NUM_THREADS=1 prlimit --as=8000000000 $py -m pytest -x -q -p no:cacheprovider -p no:xdist -p no:schemathesis -p no:anyio --assert=plain --hypothesis-seed=0 --timeout=60"
  echo "== $m: mutating src/albert_bench/$m.py against ${tests[$m]}" >&2
  # which tests execute each line (mutmut_config.py runs only those on a mutant first, then --rerun-all the rest)
  # (test_contexts.py names one context per test, for every thread: a live server's lines count for their test)
  printf '[run]\nsource = src/albert_bench\ndata_file = .mutation-coverage\n' > "$work/.mutation-coveragerc"
  (cd "$work" && eval "env PYTHONPATH=$work/src:$work OMP_NUM_THREADS=1 $py -m coverage run --rcfile=.mutation-coveragerc -m pytest -q -p no:cacheprovider -p no:xdist -p test_contexts --hypothesis-seed=0 --junitxml=.mutation-junit.xml ${tests[$m]}" > "$repo/.mutation/$m.log" 2>&1 \
   && "$py" "$repo/scripts/mutation/coverage_map.py" .mutation-coverage "src/albert_bench/$m.py" .mutation-tests.json .mutation-junit.xml 2>> "$repo/.mutation/$m.log") \
   || { echo "mutation.sh: the tests of $m fail unmutated or coverage failed; see .mutation/$m.log" >&2; exit 1; }
  echo "$base" > "$work/.mutation-runner"
  echo "${MUTATION_SAMPLE:-1}" > "$work/.mutation-sample"
  echo "${MUTATION_SAMPLE:-1}" > "$repo/.mutation/$m.sample"
  (cd "$work" && "$repo/.venv/bin/mutmut" run --paths-to-mutate "src/albert_bench/$m.py" --tests-dir tests \
      --runner "$base ${tests[$m]}" --rerun-all --no-progress >> "$repo/.mutation/$m.log" 2>&1 || true)
  (cd "$work" && "$repo/.venv/bin/mutmut" results > "$repo/.mutation/$m.results" 2>&1 || true
   "$repo/.venv/bin/mutmut" show all > "$repo/.mutation/$m.txt" 2>&1 || true
   cp .mutmut-cache "$repo/.mutation/$m.sqlite")
  rm -rf "$work"
done
"$py" scripts/mutation/summary.py .mutation > .mutation/summary.txt && cat .mutation/summary.txt
