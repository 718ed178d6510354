#!/usr/bin/env bash
# Score every shipped model on FER2013 PublicTest, whole and without the faces copied from the training set
# (issue 15), into the evaluation JSON that docs/results.md is generated from; then regenerate it.
# Usage: bash experiments/score_shipped.sh [SHARED_DIR]
set -euo pipefail
shared=${1:-../shared}
val="$shared/datasets/fer2013/val"
scores=docs/results/eval
score() {  # file name, then rtfer evaluate options
  local name=$1; shift
  rtfer evaluate "$@" --data "$val" --dedupe-against "$shared/datasets/fer2013/train" --json > "$scores/$name.json"
}
score msfernet-fer2013-7_val7 --weights msfernet-fer2013-7 --out docs/models/msfernet-fer2013-7
score msfernet-fer2013-7_val7_tta --weights msfernet-fer2013-7 --tta
score msfernet-fer2013-7_val7_int8 --weights msfernet-fer2013-7 --backend onnx-int8
score msfernet-fer2013-7_val3 --weights msfernet-fer2013-7 --labels 3 --out docs/models/msfernet-fer2013-7-groups
score msfernet-fer2013-3_val3 --weights msfernet-fer2013-3 --labels 3
score msfernet-ckplus-7_fer2013val --weights msfernet-ckplus-7
score vggs-fer2013-7_val7 --weights vggs-fer2013-7
score vggs-fer2013-7_val3 --weights vggs-fer2013-7 --labels 3
python experiments/results_table.py > docs/results.md
