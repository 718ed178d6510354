"""Temporal smoothing of per-frame emotion probabilities, with parameters in seconds and hertz.

We use the One-Euro filter (Casiez, Roussel & Vogel, CHI 2012): an exponential smoother whose cut-off
frequency rises with the signal's speed. A steady expression is smoothed hard (no label flicker),
while a real change passes with little lag, which matters because RT-FER exists to show changes.
A fixed EMA must trade one for the other; a Kalman filter or an HMM would need a motion or transition
model that facial expressions do not follow. Every step uses the real time between frames, so results
do not depend on the frame rate or on skipped frames.
"""

from __future__ import annotations

import math

import numpy as np


def _alpha(dt: float, cutoff_hz: float) -> float:
    tau = 1.0 / (2 * math.pi * cutoff_hz)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One-Euro filter for a scalar or a vector signal (each component filtered with a shared cut-off).

    ``min_cutoff`` (Hz): smoothing when the signal is still (lower = smoother, more lag).
    ``beta`` (1/unit): how fast the cut-off rises with speed (higher = less lag on changes).
    ``d_cutoff`` (Hz): smoothing of the speed estimate.
    """

    def __init__(self, min_cutoff: float = 0.4, beta: float = 0.6, d_cutoff: float = 1.0):
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.reset()

    def reset(self) -> None:
        self._t: float | None = None
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None

    def __call__(self, t: float, x: np.ndarray | float) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self._t is None or self._x is None:
            self._t, self._x, self._dx = t, x, np.zeros_like(x)
            return x
        dt = t - self._t
        if dt <= 0:
            return self._x
        speed = (x - self._x) / dt
        self._dx = self._dx + _alpha(dt, self.d_cutoff) * (speed - self._dx)
        cutoff = self.min_cutoff + self.beta * float(np.max(np.abs(self._dx)))
        self._x = self._x + _alpha(dt, cutoff) * (x - self._x)
        self._t = t
        return self._x


class ProbabilitySmoother:
    """Smooths probability vectors over time and holds the last value briefly when the face is lost.

    ``hold_s``: after the face disappears the smoothed value is carried for at most this long (a blink,
    a hand passing); after that the output is ``None`` and the filter starts afresh.
    """

    def __init__(self, min_cutoff: float = 0.4, beta: float = 0.6, hold_s: float = 0.5):
        self.filter = OneEuroFilter(min_cutoff, beta)
        self.hold_s = hold_s
        self._last_seen: float | None = None
        self._last: np.ndarray | None = None

    def update(self, t: float, probs: np.ndarray | None) -> np.ndarray | None:
        if probs is None:
            if self._last is not None and self._last_seen is not None and t - self._last_seen <= self.hold_s:
                return self._last
            self.filter.reset()
            self._last = None
            return None
        smoothed = self.filter(t, probs)
        smoothed = smoothed / max(float(smoothed.sum()), 1e-12)
        self._last, self._last_seen = smoothed, t
        return smoothed
