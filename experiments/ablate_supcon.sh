#!/usr/bin/env bash
# Ablation of the supervised-contrastive mode on a fixed short CPU budget (issue 2):
# the same 8,000-face stratified subset of FER2013 train, 6 epochs, seed 0, validated on PublicTest.
# Usage: bash experiments/ablate_supcon.sh [SHARED_DIR] [OUT_DIR]
set -euo pipefail
shared=${1:-../shared}
out=${2:-runs/ablation-supcon}
for mode in off joint two-stage; do
  rtfer train --data "$shared/datasets/fer2013/train" --val "$shared/datasets/fer2013/val" \
    --subset 8000 --epochs 6 --supcon "$mode" --seed 0 --out "$out/$mode"
done
python experiments/collect.py "$out"/*/summary.json
