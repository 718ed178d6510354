"""The second seed paper's smoothness claim, measured on the clips in ../shared/media/videos (issue 7).

    python experiments/smoothness.py --vggs vggs-fer2013-7 --msfernet msfernet-fer2013-7 \
        --out docs/results/smoothness.json

For every clip both models analyse every frame (`rtfer.analyze_video`, default settings). The score of an
output is its mean absolute frame-to-frame change, averaged over the 7 emotions and over consecutive frame
pairs where a face was found in both (lower = smoother). Outputs compared:

* VGG-S intensity regression (sigmoid head, no smoothing);
* VGG-S classification as argmax labels (one-hot), and its softmax probabilities;
* MSFERNet softmax probabilities, raw and One-Euro smoothed (what rtfer reports), and the smoothed label.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np

from rtfer.video import analyze_video


def mean_change(series: list[np.ndarray | None]) -> float:
    steps = [np.abs(b - a).mean() for a, b in itertools.pairwise(series) if a is not None and b is not None]
    return float(np.mean(steps)) if steps else float("nan")


def one_hot(label: str, labels: tuple[str, ...]) -> np.ndarray | None:
    return np.eye(len(labels))[labels.index(label)] if label else None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--vggs", default="vggs-fer2013-7")
    parser.add_argument("--msfernet", default="msfernet-fer2013-7")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    results = []
    for clip in sorted((args.shared / "media" / "videos").glob("*.mp4")):
        vggs = analyze_video(clip, weights=args.vggs, progress=False)
        msfer = analyze_video(clip, weights=args.msfernet, progress=False)
        argmax = [None if r.probs is None else one_hot(vggs.labels[int(np.argmax(r.probs))], vggs.labels)
                  for r in vggs.rows]
        row = {
            "clip": clip.name, "frames": len(vggs.rows),
            "vggs_intensity": mean_change([r.intensity for r in vggs.rows]),
            "vggs_argmax_label": mean_change(argmax),
            "vggs_probabilities": mean_change([r.probs for r in vggs.rows]),
            "msfernet_probabilities": mean_change([r.probs for r in msfer.rows]),
            "msfernet_smoothed_probabilities": mean_change([r.smooth_probs if r.face else None for r in msfer.rows]),
            "msfernet_smoothed_label": mean_change([one_hot(r.label, msfer.labels) if r.face else None
                                                    for r in msfer.rows]),
        }
        results.append(row)
        print(json.dumps(row), flush=True)
    keys = [k for k in results[0] if k not in ("clip", "frames")]
    mean = {k: float(np.nanmean([r[k] for r in results])) for k in keys}
    print("\n| output | mean abs change per frame (7 emotions, lower = smoother) |")
    print("|---|---|")
    for key in keys:
        print(f"| {key.replace('_', ' ')} | {mean[key]:.4f} |")
    if args.out:
        args.out.write_text(json.dumps({"clips": results, "mean": mean}, indent=1))


if __name__ == "__main__":
    main()
