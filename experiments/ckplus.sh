#!/usr/bin/env bash
# msfernet-ckplus-7 (issue 3): the recipe is scored by 10-fold subject-independent CV on CK+48, the
# image-level split is run only to compare with papers that use it, then the same recipe is trained
# on all of CK+48. Recipe: warm start from msfernet-fer2013-7 (classifier rows carried over by class
# name; contempt starts fresh), AdamW, 12 epochs, batch 64, sqrt class weighting.
# Usage: bash experiments/ckplus.sh [SHARED_DIR] [OUT_DIR]
set -euo pipefail
shared=${1:-../shared}
out=${2:-runs/ckplus}
recipe=(--init-from msfernet-fer2013-7 --optimizer adamw --lr 1e-3 --epochs 12 --batch-size 64
        --warmup-epochs 1 --class-weighting sqrt --seed 0)
data="$shared/datasets/ckplus48"
rtfer cv --data "$data" --folds 10 --split subject "${recipe[@]}" --out "$out/cv-subject"
rtfer cv --data "$data" --folds 10 --split image "${recipe[@]}" --out "$out/cv-image"
rtfer train --data "$data" "${recipe[@]}" --out "$out/all"
