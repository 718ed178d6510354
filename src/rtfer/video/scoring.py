"""Per-frame scoring of the subject, shared by file analysis and live sessions: valence, smoothed
probabilities and valence, the uncertainty band, the shown label (with hysteresis) and the short hold
when the face is lost. One implementation, so a recording and a live session of the same frames agree.
"""

from __future__ import annotations

import math

from rtfer.taxonomy import valence
from rtfer.video.smoothing import ExponentialSmoother, LabelHysteresis
from rtfer.video.timeline import FrameResult


class SubjectScorer:
    """Scores one subject's frames in time order.

    ``tau_s``: smoothing time constant; ``margin``: label hysteresis; ``hold_s``: after the face is lost the
    smoothed values are carried for at most this long (a blink, a hand passing), then they are empty and
    the smoothing starts afresh when the face returns. A change of track id also starts afresh: one
    person's smoothed state never flows into another's.
    """

    def __init__(self, labels: tuple[str, ...], tau_s: float = 1.0, margin: float = 0.1, hold_s: float = 0.5):
        self.labels = labels
        self.hold_s = hold_s
        self.smoother = ExponentialSmoother(tau_s)
        self.hysteresis = LabelHysteresis(margin)
        self._variance = 0.0
        self._last: FrameResult | None = None
        self._track: int | None = None

    def reset(self) -> None:
        self.smoother.reset()
        self.hysteresis.reset()
        self._variance, self._last = 0.0, None

    def score(self, result: FrameResult) -> FrameResult:
        """Fill in the valence fields and label of ``result`` (whose ``probs`` are ``None`` without a face)."""
        if result.probs is None:
            last = self._last
            if last is not None and result.time_s - last.time_s <= self.hold_s:
                result.smooth_probs, result.valence_smooth = last.smooth_probs, last.valence_smooth
                result.valence_low, result.valence_high = last.valence_low, last.valence_high
            else:
                self.reset()
            return result
        track = result.face.track_id if result.face is not None else None
        if self._last is not None and track != self._track:
            self.reset()
        self._track = track
        result.valence = float(valence(result.probs, self.labels))
        previous = None if self._last is None else self._last.valence_smooth
        alpha = self.smoother.weight(result.time_s)
        smooth = self.smoother(result.time_s, result.probs)
        smooth = smooth / max(float(smooth.sum()), 1e-12)
        result.smooth_probs = smooth
        result.valence_smooth = float(valence(smooth, self.labels))
        if previous is not None:  # exponentially weighted variance, same weights as the mean
            self._variance = (1 - alpha) * (self._variance + alpha * (result.valence - previous) ** 2)
        spread = math.sqrt(self._variance)
        result.valence_low = max(-1.0, result.valence_smooth - spread)
        result.valence_high = min(1.0, result.valence_smooth + spread)
        if result.face is not None:
            result.label = self.labels[self.hysteresis(smooth)]
        self._last = result
        return result
