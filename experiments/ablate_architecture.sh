#!/usr/bin/env bash
# Architecture ablations on the same fixed short CPU budget as ablate_supcon.sh (issue 3):
# the 8,000-face stratified subset of FER2013 train, 6 epochs, seed 0, SGD, CE only, validated on
# PublicTest. The full model at this budget is ablate_supcon.sh's "off" run.
# Usage: bash experiments/ablate_architecture.sh [SHARED_DIR] [OUT_DIR]
set -euo pipefail
shared=${1:-../shared}
out=${2:-runs/ablation-architecture}
common=(--data "$shared/datasets/fer2013/train" --val "$shared/datasets/fer2013/val" --subset 8000 --seed 0
        --epochs 6 --supcon off)
rtfer train "${common[@]}" --no-cbam --out "$out/no-cbam"
rtfer train "${common[@]}" --single-scale --out "$out/single-scale"
# issue 15's second architecture at the same budget (--no-clean: the data as the runs above had them)
rtfer train "${common[@]}" --model vggnet --no-clean --out "$out/vggnet"
python experiments/collect.py "$out"/*/summary.json
