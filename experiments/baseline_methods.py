"""Person baseline: the log-probability shift against subtracting the mean baseline valence (issue 14).

    python experiments/baseline_methods.py [--shared ../shared]

Each shared clip is analysed once (default model); its first neutral stretch is the baseline, and the mean
raw-frame valence of later stretches (picked from the frames) is compared with what it should be: 0 for a
neutral face or a surprise (surprise carries no valence), positive for a grin or smile.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from rtfer.taxonomy import valence
from rtfer.video import analyze_video
from rtfer.video.baseline import Baseline

#: clip -> (baseline stretch, {stretch name: (start, end, expected)})
CASES = {
    "liveportrait_driving_d0": ((0.0, 0.7), {"grin": (1.0, 2.5, "+"), "neutral again": (2.8, 3.1, "0")}),
    "liveportrait_driving_d18": ((0.0, 2.0), {"surprise": (2.2, 3.0, "0"), "smile": (3.8, 4.1, "+"),
                                              "neutral again": (5.6, 7.2, "0")}),
    "liveportrait_source_s18": ((0.0, 3.0), {"neutral, head turning": (3.0, 9.4, "0")}),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared")
    args = parser.parse_args()
    print("| clip | stretch | expected | raw | minus baseline valence | log-probability shift |")
    print("|---|---|---|---|---|---|")
    for name, ((start, stop), stretches) in CASES.items():
        timeline = analyze_video(args.shared / "media" / "videos" / f"{name}.mp4", progress=False)
        rows = [r for r in timeline.rows if r.probs is not None]
        times = np.array([r.time_s for r in rows])
        probs = np.array([r.probs for r in rows])
        resting = probs[(times >= start) & (times <= stop)]
        raw = valence(probs, timeline.labels)
        offset = np.clip(raw - valence(resting, timeline.labels).mean(), -1, 1)
        shifted = valence(Baseline.from_probs(resting, timeline.labels, name).correct(probs), timeline.labels)
        for stretch, (a, b, expected) in stretches.items():
            inside = (times >= a) & (times <= b)
            print(f"| {name.removeprefix('liveportrait_')} | {stretch} ({a:g}-{b:g} s) | {expected} | "
                  f"{raw[inside].mean():+.2f} | {offset[inside].mean():+.2f} | {shifted[inside].mean():+.2f} |")


if __name__ == "__main__":
    main()
