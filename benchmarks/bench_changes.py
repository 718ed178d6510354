"""Offline change-point search time against recording length (issue 5): python benchmarks/bench_changes.py

A smoothed-valence-like series at 30 fps with three segments and noise, from 10 s to 2 h.
"""

from __future__ import annotations

import time

import numpy as np

from rtfer.video.changes import offline_change_points


def main() -> None:
    rng = np.random.default_rng(0)
    offline_change_points(np.arange(100) / 30, rng.normal(0, 0.05, 100), np.arange(100), [""] * 100)  # imports
    print("| recording | frames | seconds | change points found |")
    print("|---|---|---|---|")
    for minutes in (1 / 6, 1, 10, 60, 120):
        n = round(minutes * 60 * 30)
        times = np.arange(n) / 30.0
        values = np.where(times < times[-1] / 3, -0.5, np.where(times < 2 * times[-1] / 3, 0.4, -0.1))
        values = values + rng.normal(0, 0.05, n)
        start = time.perf_counter()
        found = offline_change_points(times, values, np.arange(n), ["neutral"] * n)
        label = f"{minutes * 60:g} s" if minutes < 1 else f"{minutes:g} min"
        print(f"| {label} | {n} | {time.perf_counter() - start:.3f} | "
              f"{', '.join(f'{c.time_s:.1f} s' for c in found)} |")


if __name__ == "__main__":
    main()
