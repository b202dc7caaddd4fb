#!/usr/bin/env bash
# Issue 5's GPU training benchmark, for a session that is lent a GPU (see the device tool's README):
#   run(command="bash benchmarks/gpu_train_run.sh", carry=[".devdata"])      (a few minutes on one H100/H200)
# Inputs under $D (default .devdata, git-ignored): dev-v2.0.json and albert-base-v2/ (config + spiece.model), copied
# from ../shared/data. Figures go to $OUT (default gpu-out): train_gpu.json, the log, and RESULTS.md with the new section;
# copy that section into benchmarks/RESULTS.md here.
set -euo pipefail
D=${D:-.devdata}
OUT=${OUT:-gpu-out}
mkdir -p "$OUT" /tmp/ds/squad2
export PYTHONPATH=$PWD/src HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 ALBERT_BENCH_CACHE=/tmp/albert-bench-cache ALBERT_BENCH_QUIET=1
cp "$D/dev-v2.0.json" /tmp/ds/squad2/
ln -sfn "$PWD/$D/albert-base-v2" /tmp/ds/albert-base-v2
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$OUT/gpu.txt"
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)" >> "$OUT/gpu.txt"
python3 benchmarks/bench_train_gpu.py --data /tmp/ds --compile --steps "${STEPS:-60}" --json "$OUT/train_gpu.json" 2>&1 | tee "$OUT/train_gpu.log"
cp benchmarks/RESULTS.md "$OUT/RESULTS.md"
