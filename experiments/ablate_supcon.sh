#!/usr/bin/env bash
# Ablation of the supervised-contrastive mode on a fixed short CPU budget (issue 2):
# the same 8,000-face stratified subset of FER2013 train, 6 epochs, seed 0, SGD, validated on PublicTest.
# joint and two-stage see two augmented views per face, so "off-12-epochs" is CE alone with the same
# number of forward/backward passes as joint.
# Usage: bash experiments/ablate_supcon.sh [SHARED_DIR] [OUT_DIR]
set -euo pipefail
shared=${1:-../shared}
out=${2:-runs/ablation-supcon}
common=(--data "$shared/datasets/fer2013/train" --val "$shared/datasets/fer2013/val" --subset 8000 --seed 0)
for mode in off joint two-stage; do
  rtfer train "${common[@]}" --epochs 6 --supcon "$mode" --out "$out/$mode"
done
rtfer train "${common[@]}" --epochs 12 --supcon off --out "$out/off-12-epochs"
python experiments/collect.py "$out"/*/summary.json
