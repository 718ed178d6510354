"""Emotional change points: one causal detector for live sessions, reviews, reports and ``summary.json``.

A change is a *sustained* shift of the smoothed valence away from the mean of the current segment. A
shift begins at the first sample half of ``min_effect`` away from that mean (so a gradual rise does not
drag the reference along with it) and is a change once it has lasted ``min_duration_s`` seconds, never
come back within half the effect, and its mean lies at least ``min_effect`` (on the [-1, 1] scale) from the
segment's. A shift that comes back is folded into the segment; one that lingers between half and the full
effect for twice the duration is a drift, and the segment absorbs it. The change is dated where the shift
began and reported when confirmed, so a live session shows it ``min_duration_s`` or more later and a
recording lists the same change at the same time. The shift's samples then form the new segment.

A segment never spans a gap without the face (smoothed valence empty, i.e. lost for longer than the hold)
or a change of track: the detector starts afresh and needs ``min_duration_s / 2`` of the new segment
before it compares anything, so no change is reported across a gap or from one person to another.

The same frames give the same list wherever they are run (:func:`detect_changes` is the detector fed row by
row, which is what a live session does). Rates and delays on the shared clips: docs/video.md.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rtfer.video.timeline import FrameResult

MIN_DURATION_S = 1.5
MIN_EFFECT = 0.3


@dataclass
class ChangePoint:
    time_s: float
    frame: int
    before: str          # dominant shown emotion of the segment before
    after: str           # ... and of the shift
    valence_before: float
    valence_after: float
    confirmed_s: float = 0.0   # when the shift had lasted long enough to be reported

    @property
    def sentence(self) -> str:
        """The change in words, as the app and the report show it."""
        verb = "rose" if self.valence_after > self.valence_before else "fell"
        emotions = f"mostly {self.before} → {self.after}" if self.before != self.after else f"mostly {self.after}"
        return (f"valence {verb} from {self.valence_before:+.2f} to {self.valence_after:+.2f} at "
                f"{self.time_s:.1f} s and held {self.confirmed_s - self.time_s:.1f} s; {emotions}")

    def to_dict(self) -> dict:
        return {"time_s": round(self.time_s, 3), "frame": self.frame, "from": self.before, "to": self.after,
                "valence_before": round(self.valence_before, 4), "valence_after": round(self.valence_after, 4),
                "confirmed_s": round(self.confirmed_s, 3), "text": self.sentence}


class _Run:
    """Running mean of a stretch of samples and the counts of its shown labels."""

    def __init__(self) -> None:
        self.total, self.count, self.start, self.labels = 0.0, 0, None, Counter()

    def add(self, t: float, value: float, label: str) -> None:
        self.start = t if self.start is None else self.start
        self.total += value
        self.count += 1
        if label:
            self.labels[label] += 1

    @property
    def mean(self) -> float:
        return self.total / self.count

    @property
    def dominant(self) -> str:
        return self.labels.most_common(1)[0][0] if self.labels else ""


class ChangeDetector:
    """Sustained valence shifts, fed one scored frame at a time; ``update`` returns a change or ``None``."""

    def __init__(self, min_duration_s: float = MIN_DURATION_S, min_effect: float = MIN_EFFECT):
        if min_duration_s <= 0 or min_effect <= 0:
            raise ValueError("the minimum duration and effect size of a change must be positive")
        self.min_duration_s, self.min_effect = min_duration_s, min_effect
        self._segment = _Run()
        self._shift: _Run | None = None
        self._shift_sign = 0
        self._shift_frame = 0
        self._track: int | None = None

    def reset(self) -> None:
        self._segment, self._shift, self._shift_sign = _Run(), None, 0

    def update(self, row: FrameResult) -> ChangePoint | None:
        value = row.valence_smooth
        track = row.face.track_id if row.face is not None else self._track
        if value is None or track != self._track:
            self.reset()
            self._track = track
            if value is None:
                return None
        t, label = row.time_s, row.label
        segment = self._segment
        if segment.count == 0 or t - segment.start < self.min_duration_s / 2:
            segment.add(t, value, label)
            return None
        difference = value - segment.mean
        sign = (difference > 0) - (difference < 0)
        if abs(difference) < self.min_effect / 2 or (self._shift is not None and sign != self._shift_sign):
            if self._shift is not None:  # the shift did not last: it belongs to the segment after all
                self._absorb_shift()
            segment.add(t, value, label)
            return None
        if self._shift is None:
            self._shift, self._shift_sign, self._shift_frame = _Run(), sign, row.frame
        shift = self._shift
        shift.add(t, value, label)
        lasted = t - shift.start
        if lasted >= self.min_duration_s and abs(shift.mean - segment.mean) >= self.min_effect:
            change = ChangePoint(shift.start, self._shift_frame, segment.dominant, shift.dominant, segment.mean,
                                 shift.mean, confirmed_s=t)
            self._segment, self._shift = shift, None
            return change
        if lasted >= 2 * self.min_duration_s:  # a slow drift, not a change: the reference follows it
            self._absorb_shift()
        return None

    def _absorb_shift(self) -> None:
        shift, segment = self._shift, self._segment
        segment.total += shift.total
        segment.count += shift.count
        segment.labels.update(shift.labels)
        self._shift = None


def detect_changes(rows: Iterable[FrameResult], min_duration_s: float = MIN_DURATION_S,
                   min_effect: float = MIN_EFFECT) -> list[ChangePoint]:
    """Every change of a scored timeline: the live detector run over its rows in order."""
    detector = ChangeDetector(min_duration_s, min_effect)
    return [change for row in rows if (change := detector.update(row)) is not None]
