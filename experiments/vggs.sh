#!/usr/bin/env bash
# Compact VGG-S with intensity head (issue 7): FER2013 (faces upsampled to 128x128 and re-cropped with
# 68 landmarks), then CK+48 by 10-fold subject-independent CV warm-started from the FER2013 model, then
# the same CK+ recipe on all of CK+48. Augmentation: the paper's 35 brightness/blur variants (the model's
# default policy); intensity targets from same-subject (CK+) or any-face (FER2013) mixup on half the faces.
# Usage: bash experiments/vggs.sh [SHARED_DIR] [OUT_DIR]
set -euo pipefail
shared=${1:-../shared}
out=${2:-runs/vggs}
rtfer train --model vggs --data "$shared/datasets/fer2013/train" --val "$shared/datasets/fer2013/val" \
  --optimizer adamw --lr 1e-3 --epochs 15 --batch-size 64 --ema 0.999 --mixup 0.5 --seed 0 --out "$out/fer2013-7"
ckplus=(--model vggs --init-from "$out/fer2013-7/best.safetensors" --optimizer adamw --lr 5e-4 --epochs 15
        --batch-size 64 --warmup-epochs 1 --class-weighting sqrt --mixup 0.5 --seed 0)
rtfer cv --data "$shared/datasets/ckplus48" --folds 10 --split subject "${ckplus[@]}" --out "$out/ckplus-cv-subject"
rtfer train --data "$shared/datasets/ckplus48" "${ckplus[@]}" --out "$out/ckplus-all"
