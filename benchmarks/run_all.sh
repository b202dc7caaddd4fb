#!/usr/bin/env bash
# Every benchmark, each writing its own section of benchmarks/RESULTS.md with the machine it ran on:
#   bash benchmarks/run_all.sh                 (about 17 minutes on 2 CPU cores)
# MINILM=RUN/best MINILM_DEV=RUN/split/dev.json adds the int8 agreement of a MiniLM fine-tune
# (benchmarks/minilm_offline.sh). The GPU training benchmark runs only where a GPU is present
# (on a lent device machine: benchmarks/gpu_train_run.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
export ALBERT_BENCH_QUIET=1
$PY benchmarks/bench_features.py
$PY benchmarks/bench_decode.py
$PY benchmarks/bench_answer.py ${MINILM:+--minilm "$MINILM" --minilm-dev "$MINILM_DEV"}
$PY benchmarks/bench_serve.py --seconds 12
$PY benchmarks/bench_predict.py
$PY benchmarks/bench_cpu_answer.py   # whole commands against the one-at-a-time loop, stages, profiles (about 7 minutes)
if $PY -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  $PY benchmarks/bench_train_gpu.py --compile
else
  echo "no GPU here: benchmarks/bench_train_gpu.py not run (it runs unchanged on a GPU machine; see benchmarks/gpu_train_run.sh)"
fi
