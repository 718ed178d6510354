#!/usr/bin/env bash
# msfernet-fer2013-3 trained as three groups (issue 3), to compare with the groups derived from the
# 7-class model: warm start from msfernet-fer2013-7 (the neutral row carries over, positive and
# negative start fresh), surprise left out, AdamW, EMA, 4 epochs, selected on PublicTest.
# Usage: bash experiments/msfernet_3class.sh [SHARED_DIR] [OUT_DIR]
set -euo pipefail
shared=${1:-../shared}
out=${2:-runs/fer2013-3}
rtfer train --data "$shared/datasets/fer2013/train" --val "$shared/datasets/fer2013/val" --labels 3 \
  --init-from msfernet-fer2013-7 --optimizer adamw --lr 5e-4 --epochs 4 --warmup-epochs 0.5 --ema 0.999 \
  --seed 0 --out "$out"
