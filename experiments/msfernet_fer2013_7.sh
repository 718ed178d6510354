#!/usr/bin/env bash
# msfernet-fer2013-7 (issue 3), second run: a warm restart of the first (20-epoch) run with a 60-epoch
# cosine schedule, AdamW 1e-3, EMA 0.999, selected on PublicTest; then shipped with its 8-bit graph, and
# every stored evaluation of it (and of the 3 groups derived from it) is rewritten.
# The first run's commands are in docs/models.md; it must exist in RUNS_DIR/fer2013-7.
# Usage: bash experiments/msfernet_fer2013_7.sh [SHARED_DIR] [RUNS_DIR]
set -euo pipefail
shared=${1:-../shared}
runs=${2:-runs}
train="$shared/datasets/fer2013/train"
val="$shared/datasets/fer2013/val"
[ -f "$runs/fer2013-7-long/summary.json" ] ||
  rtfer train --data "$train" --val "$val" --init-from "$runs/fer2013-7/best.safetensors" --optimizer adamw \
    --lr 1e-3 --ema 0.999 --epochs 60 --seed 0 --out "$runs/fer2013-7-long"

# the first run as it was shipped (epochs, minutes, machine), for the chain recorded in the new metadata
first="$runs/fer2013-7/shipped-meta.json"
[ -f "$first" ] || git show 9da31a9:src/rtfer/weights/msfernet-fer2013-7.json > "$first"
python experiments/ship_weights.py "$runs/fer2013-7-long" msfernet-fer2013-7 --after "$first"
rtfer export --int8 --calibration "$train" --weights msfernet-fer2013-7 \
  --out src/rtfer/weights/msfernet-fer2013-7.int8.onnx
cp "$runs/fer2013-7-long/history.csv" "$runs/fer2013-7-long/curves.png" docs/models/msfernet-fer2013-7/

scores=docs/results/eval
rtfer evaluate --weights msfernet-fer2013-7 --data "$val" --json --out docs/models/msfernet-fer2013-7 \
  > "$scores/msfernet-fer2013-7_val7.json"
rtfer evaluate --weights msfernet-fer2013-7 --data "$val" --json --tta > "$scores/msfernet-fer2013-7_val7_tta.json"
rtfer evaluate --weights msfernet-fer2013-7 --data "$val" --json --backend onnx-int8 \
  > "$scores/msfernet-fer2013-7_val7_int8.json"
rtfer evaluate --weights msfernet-fer2013-7 --data "$val" --json --labels 3 > "$scores/msfernet-fer2013-7_val3.json"
rtfer evaluate --weights msfernet-fer2013-7 --data "$shared/datasets/ckplus48" --json \
  > "$scores/msfernet-fer2013-7_ckplus48.json"
python experiments/derive_groups.py msfernet-fer2013-7 msfernet-fer2013-3 --val "$val" \
  --compared-with "$runs/fer2013-3"
rtfer evaluate --weights msfernet-fer2013-3 --data "$val" --json --labels 3 > "$scores/msfernet-fer2013-3_val3.json"
python benchmarks/bench_model.py --weights msfernet-fer2013-7 --out docs/results/model_cost.json
python experiments/results_table.py > docs/results.md
