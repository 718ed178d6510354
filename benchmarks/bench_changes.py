"""Change detection time against recording length: python benchmarks/bench_changes.py

A smoothed-valence-like series at 30 fps with three segments and noise, from 10 s to 2 h, run through
:func:`rtfer.video.changes.detect_changes` (the live detector fed every row, as a review or report does).
How often it fires on steady faces and how late on posed onsets: benchmarks/bench_steadiness.py.
"""

from __future__ import annotations

import time

import numpy as np

from rtfer.faces import Face
from rtfer.video.changes import detect_changes
from rtfer.video.timeline import FrameResult


def main() -> None:
    rng = np.random.default_rng(0)
    face = Face((0, 0, 10, 10), 1.0, track_id=1)
    print("| recording | frames | seconds | change points found |")
    print("|---|---|---|---|")
    for minutes in (1 / 6, 1, 10, 60, 120):
        n = round(minutes * 60 * 30)
        times = np.arange(n) / 30.0
        values = np.where(times < times[-1] / 3, -0.5, np.where(times < 2 * times[-1] / 3, 0.4, -0.1))
        values = values + rng.normal(0, 0.05, n)
        rows = [FrameResult(i, t, face, label="neutral", valence_smooth=v)
                for i, (t, v) in enumerate(zip(times.tolist(), values.tolist(), strict=True))]
        start = time.perf_counter()
        found = detect_changes(rows)
        label = f"{minutes * 60:g} s" if minutes < 1 else f"{minutes:g} min"
        print(f"| {label} | {n} | {time.perf_counter() - start:.3f} | "
              f"{', '.join(f'{c.time_s:.1f} s' for c in found)} |")


if __name__ == "__main__":
    main()
