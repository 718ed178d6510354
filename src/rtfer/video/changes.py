"""Emotional change points: offline on a whole recording, online on a live stream.

Offline: PELT (Killick et al. 2012, via ``ruptures``) finds the segmentation of the smoothed valence that
minimises squared error plus a penalty per change. The penalty is set from the noise level, estimated
robustly from frame-to-frame differences, so quiet and noisy recordings are treated alike; segments are at
least ``min_segment_s`` long. Each change reports the dominant emotion before and after. The search runs
in ruptures' compiled kernel PELT (a linear kernel is the squared-error cost) on the valence averaged over
``resolution_s`` blocks: an hour of 30 fps video takes about 2 s, where the pure-Python ``Pelt`` grows
quadratically with the number of frames.

Online: a two-window detector compares the mean smoothed valence of the last ``window_s`` seconds with
the ``window_s`` seconds before; a difference above ``threshold`` is a change, then it waits
``refractory_s`` before firing again.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass

import numpy as np


@dataclass
class ChangePoint:
    time_s: float
    frame: int
    before: str          # dominant emotion of the segment before
    after: str           # ... and after
    valence_before: float
    valence_after: float

    def to_dict(self) -> dict:
        return {"time_s": round(self.time_s, 3), "frame": self.frame, "from": self.before, "to": self.after,
                "valence_before": round(self.valence_before, 4), "valence_after": round(self.valence_after, 4)}


def noise_level(values: np.ndarray) -> float:
    """Robust standard deviation of the noise: MAD of first differences / (0.6745 * sqrt 2)."""
    if len(values) < 3:
        return 0.0
    diffs = np.diff(values)
    return float(np.median(np.abs(diffs - np.median(diffs))) / 0.6745 / np.sqrt(2))


def offline_change_points(times: np.ndarray, values: np.ndarray, frames: np.ndarray, labels: list[str],
                          min_segment_s: float = 1.0, min_shift: float = 0.25,
                          resolution_s: float = 0.1) -> list[ChangePoint]:
    """Change points of a valence series (NaN where no face; those samples are skipped).

    A change must also move the segment mean by at least ``min_shift`` (on the [-1, 1] scale), so that
    a long, slowly drifting recording does not report trivia.
    """
    import ruptures

    keep = ~np.isnan(values)
    times, values, frames = times[keep], values[keep], frames[keep]
    labels = [label for label, k in zip(labels, keep, strict=True) if k]
    if len(values) < 4:
        return []
    rate = (len(times) - 1) / max(times[-1] - times[0], 1e-6)
    step = max(1, round(resolution_s * rate))  # samples per block
    blocks = len(values) // step
    min_size = max(2, round(min_segment_s * rate / step))
    if blocks < 2 * min_size:
        return []
    block_means = values[:blocks * step].reshape(blocks, step).mean(axis=1)
    sigma = max(noise_level(values), 0.02)
    # the frame-level penalty 2 log(n) sigma^2 (min_size * step), divided by step: block means carry 1/step
    # of a segment's squared error
    penalty = 2 * np.log(len(values)) * sigma**2 * min_size
    cuts = ruptures.KernelCPD(kernel="linear", min_size=min_size).fit(block_means.reshape(-1, 1)).predict(pen=penalty)
    ends = [int(c) * step for c in cuts[:-1]] + [len(values)]
    bounds = [0, *ends]
    changes = []
    for start, cut, stop in zip(bounds, bounds[1:], bounds[2:], strict=False):
        before, after = values[start:cut].mean(), values[cut:stop].mean()
        if abs(after - before) < min_shift:
            continue
        changes.append(ChangePoint(float(times[cut]), int(frames[cut]), _dominant(labels[start:cut]),
                                   _dominant(labels[cut:stop]), float(before), float(after)))
    return changes


def _dominant(labels: list[str]) -> str:
    counts = Counter(label for label in labels if label)
    return counts.most_common(1)[0][0] if counts else ""


class OnlineChangeDetector:
    """Two-window mean-shift detector for live valence; ``update`` returns a change or ``None``."""

    def __init__(self, window_s: float = 2.0, threshold: float = 0.35, refractory_s: float = 3.0):
        self.window_s, self.threshold, self.refractory_s = window_s, threshold, refractory_s
        self._samples: deque[tuple[float, float, str]] = deque()
        self._last_change = -np.inf

    def update(self, t: float, value: float | None, label: str = "", frame: int = 0) -> ChangePoint | None:
        if value is None or np.isnan(value):
            return None
        self._samples.append((t, value, label))
        while self._samples and self._samples[0][0] < t - 2 * self.window_s:
            self._samples.popleft()
        if t - self._last_change < self.refractory_s or self._samples[0][0] > t - 2 * self.window_s + 0.25:
            return None
        recent = [s for s in self._samples if s[0] > t - self.window_s]
        earlier = [s for s in self._samples if s[0] <= t - self.window_s]
        if len(recent) < 2 or len(earlier) < 2:
            return None
        before, after = np.mean([s[1] for s in earlier]), np.mean([s[1] for s in recent])
        if abs(after - before) < self.threshold:
            return None
        self._last_change = t
        return ChangePoint(t, frame, _dominant([s[2] for s in earlier]), _dominant([s[2] for s in recent]),
                           float(before), float(after))
