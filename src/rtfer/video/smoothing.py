"""Temporal smoothing of per-frame emotion probabilities at the time scale of a conversation.

A counsellor looks for shifts that last, not for every twitch of a talking face, so the probabilities are
smoothed with a first-order exponential filter of time constant ``tau_s`` (1 s by default), exact for any
interval between frames (``1 - exp(-dt / tau)``), so results do not depend on the frame rate or on skipped
frames. Measured on the shared clips (``python benchmarks/bench_steadiness.py``, docs/video.md), this keeps
the smoothed valence of a steady face under 0.3 of travel per second while a posed neutral-to-expression
onset still shows (the shown label switches) within 1 s. The One-Euro filter used before lets fast jumps
through by design, which is exactly the jitter of a talking face: 0.36 per second on the neutral talking
part of a shared clip against 0.14 here.

Because valence is linear in the probabilities, the valence of the smoothed probabilities *is* the smoothed
valence; the same filter also gives an exponentially weighted variance of the per-frame valence, from
which the uncertainty band is drawn (``valence_low``/``valence_high``: the smoothed valence plus or minus
one weighted standard deviation of the readings of about the last ``tau_s`` seconds).

The shown label follows the smoothed probabilities (the bars) with hysteresis: it changes only when
another emotion's smoothed probability exceeds the shown one's by ``margin``, so it never flickers between
two near-equal emotions, and the shown emotion's bar is always within ``margin`` of the highest bar.
"""

from __future__ import annotations

import math

import numpy as np


class ExponentialSmoother:
    """First-order low-pass filter of a vector signal with time constant ``tau_s`` seconds."""

    def __init__(self, tau_s: float = 1.0):
        if tau_s <= 0:
            raise ValueError("the smoothing time constant must be positive")
        self.tau_s = tau_s
        self.reset()

    def reset(self) -> None:
        self._t: float | None = None
        self._x: np.ndarray | None = None

    def weight(self, t: float) -> float:
        """The weight of a new sample at time ``t`` (1 for the first, 0 for a repeated time)."""
        if self._t is None:
            return 1.0
        dt = t - self._t
        return 0.0 if dt <= 0 else 1.0 - math.exp(-dt / self.tau_s)

    def __call__(self, t: float, x: np.ndarray | float) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        alpha = self.weight(t)
        self._x = x.copy() if self._x is None else self._x + alpha * (x - self._x)
        self._t = t if alpha > 0 or self._t is None else self._t
        return self._x


class LabelHysteresis:
    """The shown emotion: switches only when another class's (smoothed) probability leads it by ``margin``."""

    def __init__(self, margin: float = 0.1):
        self.margin = margin
        self.current: int | None = None

    def reset(self) -> None:
        self.current = None

    def __call__(self, probs: np.ndarray) -> int:
        top = int(np.argmax(probs))
        if self.current is None or probs[top] > probs[self.current] + self.margin:
            self.current = top
        return self.current
