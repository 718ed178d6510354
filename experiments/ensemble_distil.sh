#!/usr/bin/env bash
# Issue 15's full plan in one script: four diverse members, teacher targets on disk, one distilled student,
# each scored on PublicTest whole and deduplicated. The same script runs on a GPU (members train
# concurrently, one process each) and on a CPU (one after another). Every run resumes from its checkpoint,
# so a script stopped by a time limit continues where it stopped when started again.
#
# Recipe of the members (docs/training.md): SGD with Nesterov momentum, lr 0.01, weight decay 1e-4,
# ReduceLROnPlateau on val accuracy (x0.75 after 5 epochs without gain), dropout 0.2, random 40-48 px crops,
# EMA 0.999; blank faces and conflicting copies dropped from training (rtfer train's default).
#   msfernet seed 0 | vggnet seed 1 | msfernet + SupCon joint seed 2 | msfernet 44-px crops seed 3
# Student: msfernet on the members' mean probabilities over each face and its mirror (KL at T=2 + CE, 1:1).
#
# Usage: bash experiments/ensemble_distil.sh [SHARED_DIR] [RUNS_DIR] [EPOCHS]   (EPOCHS default 250)
set -euo pipefail
shared=${1:-../shared}
runs=${2:-runs/ensemble}
epochs=${3:-250}
train="$shared/datasets/fer2013/train"
val="$shared/datasets/fer2013/val"
recipe=(--data "$train" --val "$val" --optimizer sgd --lr 0.01 --weight-decay 1e-4 --schedule plateau
        --plateau-patience 5 --plateau-factor 0.75 --dropout 0.2 --ema 0.999 --epochs "$epochs")
gpu=$(${PYTHON:-python3} -c "import torch; print(int(torch.cuda.is_available()))")

member() {  # name, then extra arguments: trains (or resumes) runs/<name> to $epochs
  local name=$1; shift
  if [ -f "$runs/$name/checkpoint.json" ]; then
    rtfer train --resume --data "$train" --val "$val" --epochs "$epochs" --out "$runs/$name"
  else
    rtfer train "${recipe[@]}" "$@" --out "$runs/$name"
  fi
}

members=(msfernet-s0 vggnet-s1 msfernet-supcon-s2 msfernet-crop44-s3)
args=("--crop 40 --seed 0" "--model vggnet --crop 40 --seed 1" "--supcon joint --crop 40 --seed 2"
      "--crop 44 --seed 3")
pids=()
for i in "${!members[@]}"; do
  # shellcheck disable=SC2086
  if [ "$gpu" = 1 ]; then member "${members[$i]}" ${args[$i]} & pids+=($!); else member "${members[$i]}" ${args[$i]}; fi
done
for pid in "${pids[@]}"; do wait "$pid"; done  # a failed member stops the script (set -e)

weights=()
for name in "${members[@]}"; do weights+=("$runs/$name/best.safetensors"); done
[ -f "$runs/teacher.safetensors" ] ||
  rtfer teacher-targets --weights "${weights[@]}" --data "$train" --tta flip --out "$runs/teacher.safetensors"
member student --teacher "$runs/teacher.safetensors" --crop 40 --seed 4

mkdir -p "$runs/eval"
for name in "${members[@]}" student; do
  rtfer evaluate --weights "$runs/$name/best.safetensors" --data "$val" --dedupe-against "$train" --json \
    > "$runs/eval/$name.json"
  rtfer evaluate --weights "$runs/$name/best.safetensors" --data "$val" --dedupe-against "$train" --json \
    --tta crops > "$runs/eval/$name-crops.json"
done
rtfer evaluate --weights "${weights[@]}" --data "$val" --dedupe-against "$train" --json > "$runs/eval/ensemble.json"
${PYTHON:-python3} experiments/collect.py "$runs"/*/summary.json
