"""Person baseline (calibration): read a person's expressions relative to their own resting face.

Faces differ: some resting faces read sad or angry to a model trained on other people. Given frames of the
same person at rest (a calibration clip, a frame folder, or the first seconds of the recording itself), each
frame's probabilities are corrected by a log-probability shift:

    corrected  ∝  p · r / g

where ``g`` is the baseline's typical output (the normalised geometric mean of its probabilities, i.e. the
mean of its log-probabilities) and ``r`` is the same distribution made neutral: the side (positive or
negative) that dominates the resting face is scaled down as a whole to the other side's mass and what is
removed goes to neutral (for schemes without a neutral class the rest is renormalised). The person's resting
face then reads neutral with valence 0; the other side's expressions keep their strength. The price: for a
person whose resting face reads sad, a real anger is damped by the same factor as the resting sadness.

Chosen by measurement against the simplest alternative, subtracting the baseline's mean valence (what
py-feat's ``Fex.baseline`` does to probabilities, since valence is linear in them): on the shared clips,
with each clip's first neutral stretch as baseline, both bring the resting face near 0, but the offset also
shifts every other expression, e.g. a surprise that should read 0 reads +0.19 and a neutral stretch later
in the clip still -0.13, where the shift gives 0.00 and -0.03 (``python experiments/baseline_methods.py``,
docs/video.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rtfer.errors import RtferError
from rtfer.taxonomy import NEGATIVE, NEUTRAL, POSITIVE, group_of, valence

#: a baseline needs at least this many frames with the face
MIN_BASELINE_FRAMES = 10
_SECONDS = re.compile(r"^(\d+(?:\.\d+)?)s$")


def baseline_seconds(spec: str | Path) -> float | None:
    """``"20s"`` -> 20.0 (the first seconds of the video itself); ``None`` for a path."""
    match = _SECONDS.match(str(spec).strip())
    if match is None:
        return None
    seconds = float(match.group(1))
    if seconds <= 0:
        raise RtferError("--baseline: the number of seconds must be positive")
    return seconds


@dataclass
class Baseline:
    """A person's resting output and the log-probability shift that maps it to neutral."""

    labels: tuple[str, ...]
    log_shift: np.ndarray       # log r - log g, per class
    source: str
    frames: int
    resting_valence: float      # mean raw valence of the baseline frames

    @classmethod
    def from_probs(cls, probs: np.ndarray, labels: tuple[str, ...], source: str) -> Baseline:
        probs = np.asarray(probs, dtype=np.float64)
        if len(probs) < MIN_BASELINE_FRAMES:
            raise RtferError(f"baseline {source}: {len(probs)} frame(s) with a face; at least "
                             f"{MIN_BASELINE_FRAMES} are needed")
        typical = np.exp(np.log(np.clip(probs, 1e-6, 1.0)).mean(axis=0))
        typical /= typical.sum()
        groups = np.array([group_of(name) for name in labels], dtype=object)
        positive, negative = groups == POSITIVE, groups == NEGATIVE
        reference = typical.copy()
        level = min(typical[positive].sum(), typical[negative].sum())
        for mask in (positive, negative):
            if mask.any() and typical[mask].sum() > 0:
                reference[mask] *= level / typical[mask].sum()
        neutral = groups == NEUTRAL
        if neutral.any():
            reference[neutral] += 1.0 - reference.sum()
        reference /= reference.sum()
        return cls(labels, np.log(reference) - np.log(typical), source, len(probs),
                   float(valence(probs, labels).mean()))

    def correct(self, probs: np.ndarray) -> np.ndarray:
        """Corrected probabilities of one frame (or a batch)."""
        shifted = np.asarray(probs, dtype=np.float64) * np.exp(self.log_shift)
        return shifted / shifted.sum(axis=-1, keepdims=True)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "frames": self.frames, "method": "log-probability shift to neutral",
                "resting_valence": round(self.resting_valence, 4),
                "shift": {name: round(float(v), 4) for name, v in zip(self.labels, self.log_shift, strict=True)}}


def apply_baseline(rows: list, baseline: Baseline, scorer: Any) -> None:
    """Fill ``corrected_probs``, ``valence_corrected`` and ``valence_corrected_smooth`` of scored rows.

    ``scorer`` is a fresh :class:`rtfer.video.scoring.SubjectScorer`: the corrected probabilities are
    smoothed exactly as the raw ones (same time constant, hold, gaps and track changes).
    """
    from rtfer.video.timeline import FrameResult

    for row in rows:
        corrected = None if row.probs is None else baseline.correct(row.probs)
        shadow = scorer.score(FrameResult(row.frame, row.time_s, row.face, corrected))
        row.corrected_probs = corrected
        row.valence_corrected, row.valence_corrected_smooth = shadow.valence, shadow.valence_smooth
