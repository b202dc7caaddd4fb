#!/usr/bin/env bash
# The newest releases, tested on purpose. Resolves what `pip install -e '.[dev]'` would take today (no constraints),
# names every package whose newest release differs from constraints.txt, and when any does, builds .venv-latest
# with them and runs the suite there. A new release that breaks something is then a named failure with its version
# ("transformers 5.26.0 (pinned 5.25.0)"), not a red suite on a user's fresh machine: users install the pins.
#   bash scripts/check_latest.sh            report (exit 0 unless ALBERT_BENCH_LATEST_STRICT=1 and tests failed)
#   bash scripts/check_latest.sh --pin      after a deliberate upgrade: write the newest versions to constraints.txt
# Needs the package registry; offline it says so and exits 0.
set -uo pipefail
cd "$(dirname "$0")/.."
quiet_pip() { "$@" 2> >(grep -v "^WARNING: Location" >&2); }  # this workplace's pip config names local indexes that may be absent
PY=.venv/bin/python
[ -x "$PY" ] || { echo "check_latest: run scripts/setup.sh first" >&2; exit 2; }
report=$(mktemp); trap 'rm -f "$report"' EXIT
torch_pin=$("$PY" -c "import torch; print(torch.__version__.split('+')[0])")
if ! quiet_pip .venv/bin/pip install -q --dry-run --ignore-installed --report "$report" -e '.[dev]' "torch==$torch_pin" 2>/dev/null; then
  echo "check_latest: cannot resolve the newest releases (no registry?); nothing checked"
  exit 0
fi
newer=$("$PY" - "$report" <<'PY'
import json, re, sys
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
pins = {}
for line in open("constraints.txt"):
    if "==" in line and not line.startswith("#"):
        name, version = line.strip().split("==", 1)
        pins[norm(name)] = version
for item in json.load(open(sys.argv[1]))["install"]:
    name, version = item["metadata"]["name"], item["metadata"]["version"]
    if norm(name) in ("albert-bench", "torch", "pip", "setuptools", "wheel"):  # torch: TORCH_SPEC; the rest pip freeze leaves out
        continue
    if pins.get(norm(name)) != version:
        print(f"{name} {version} (pinned {pins.get(norm(name), 'nothing')})")
PY
)
if [ -z "$newer" ]; then
  echo "check_latest: the newest releases are the pinned ones (constraints.txt); nothing to test"
  exit 0
fi
echo "check_latest: newest releases that differ from constraints.txt:"
echo "$newer" | sed 's/^/  /'
venv=.venv-latest
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -c "import torch" 2>/dev/null || quiet_pip "$venv/bin/pip" install -q "${TORCH_SPEC:-torch==$torch_pin}"
quiet_pip "$venv/bin/pip" install -q -U --upgrade-strategy eager -e '.[dev]' "torch==$torch_pin" || { echo "check_latest: FAILED to install the newest releases"; exit 1; }
if [ "${1:-}" = --pin ]; then
  { grep '^#' constraints.txt; "$venv/bin/pip" freeze --exclude-editable | grep -v -iE "^(albert-bench|torch)=="; } > constraints.txt.new
  mv constraints.txt.new constraints.txt
  echo "check_latest: constraints.txt now pins the newest releases; run the suite and the benchmarks with them"
  exit 0
fi
log=$(mktemp)
# the pin check asserts constraints.txt's versions, which here differ by construction: every other test decides
"$venv/bin/python" -m pytest -q -n 2 -p no:cacheprovider --deselect tests/test_setup.py::test_the_suite_runs_with_the_pinned_versions 2>&1 | tee "$log" | tail -3
failed=$(grep -E '^(FAILED|ERROR) ' "$log" | cut -d' ' -f2 | cut -d' ' -f1)
rm -f "$log"
if [ -n "$failed" ]; then
  echo "check_latest: FAILED with the newest releases:"
  echo "$newer" | sed 's/^/  /'
  echo "  failing tests:"
  echo "$failed" | sed 's/^/    /'
  echo "  users are unaffected (setup installs constraints.txt); fix the tool for the new release, then --pin"
  [ "${ALBERT_BENCH_LATEST_STRICT:-0}" = 1 ] && exit 1
else
  echo "check_latest: the suite passes with the newest releases; pin them with --pin"
fi
exit 0
