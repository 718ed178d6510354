"""Emotion names, label schemes and the valence score.

This is the one place that defines label order. Everything else asks a :class:`LabelScheme`.

* ``fer7``: FER2013's seven classes in the original CSV index order
  (0 angry, 1 disgust, 2 fear, 3 happy, 4 sad, 5 surprise, 6 neutral).
* ``ckplus7``: CK+'s seven classes (anger, contempt, disgust, fear, happy, sadness, surprise),
  stored under the canonical names below.
* ``valence3``: the RT-FER paper's three groups: positive = happy; neutral = neutral;
  negative = angry, disgust, fear, sad (and contempt); surprise belongs to no group.

Valence in [-1, 1] is ``P(positive) - P(negative)`` of the model's own probabilities, defined in
:func:`valence` alone. Surprise (ambiguous in sign: pleasant or alarming) and neutral carry no valence,
and nothing is renormalised: a face read as 71% surprise and 20% fear has valence -0.20, not the -0.81
that renormalising the non-surprise rest would give. A face the model is unsure about reads near 0, which
is what a counsellor should see. (The 3-group *classification*, :func:`to_groups`, still renormalises:
it decides which group is most likely among the three, a different question.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Every emotion rtfer knows, under its canonical name.
EMOTIONS: tuple[str, ...] = (
    "angry", "contempt", "disgust", "fear", "happy", "sad", "surprise", "neutral",
)

#: Spelling variants found in datasets and other tools, mapped to the canonical name.
ALIASES: dict[str, str] = {
    "anger": "angry", "angry": "angry", "mad": "angry",
    "contempt": "contempt",
    "disgust": "disgust", "disgusted": "disgust",
    "fear": "fear", "fearful": "fear", "afraid": "fear", "scared": "fear",
    "happy": "happy", "happiness": "happy", "joy": "happy",
    "sad": "sad", "sadness": "sad",
    "surprise": "surprise", "surprised": "surprise",
    "neutral": "neutral", "calm": "neutral",
}

POSITIVE, NEUTRAL, NEGATIVE = "positive", "neutral", "negative"

#: The paper's three groups; ``None`` means the emotion is left out (surprise).
GROUP_OF: dict[str, str | None] = {
    "angry": NEGATIVE, "contempt": NEGATIVE, "disgust": NEGATIVE, "fear": NEGATIVE, "sad": NEGATIVE,
    "happy": POSITIVE,
    "neutral": NEUTRAL,
    "surprise": None,
}


def canonical(name: str) -> str:
    """Canonical emotion or group name for ``name``; raises ``ValueError`` listing what is accepted."""
    key = name.strip().lower()
    if key in ALIASES:
        return ALIASES[key]
    if key in (POSITIVE, NEUTRAL, NEGATIVE):
        return key
    accepted = ", ".join(sorted(set(ALIASES) | {POSITIVE, NEGATIVE}))
    raise ValueError(f"unknown emotion name {name!r}; accepted names: {accepted}")


@dataclass(frozen=True)
class LabelScheme:
    """An ordered set of class names: index ``i`` of a model output means ``labels[i]``."""

    name: str
    labels: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.labels)

    def index(self, name: str) -> int:
        return self.labels.index(canonical(name))

    def __contains__(self, name: object) -> bool:
        try:
            return isinstance(name, str) and canonical(name) in self.labels
        except ValueError:
            return False


FER7 = LabelScheme("fer7", ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"))
CKPLUS7 = LabelScheme("ckplus7", ("angry", "contempt", "disgust", "fear", "happy", "sad", "surprise"))
VALENCE3 = LabelScheme("valence3", (NEGATIVE, NEUTRAL, POSITIVE))
#: Every emotion: for reading folder trees of any dataset before mapping them to a model's scheme.
ALL_EMOTIONS = LabelScheme("all", EMOTIONS)

SCHEMES: dict[str, LabelScheme] = {s.name: s for s in (FER7, CKPLUS7, VALENCE3)}


def get_scheme(name: str) -> LabelScheme:
    try:
        return SCHEMES[name]
    except KeyError:
        raise ValueError(f"unknown label scheme {name!r}; known: {', '.join(SCHEMES)}") from None


def group_of(name: str) -> str | None:
    """The valence group of an emotion (or of a group name itself); ``None`` for surprise."""
    key = canonical(name)
    return key if key in VALENCE3.labels else GROUP_OF[key]


def group_matrix(labels: tuple[str, ...]) -> np.ndarray:
    """A (len(labels), 3) 0/1 matrix summing class probabilities into VALENCE3 groups."""
    matrix = np.zeros((len(labels), len(VALENCE3)), dtype=np.float32)
    for i, name in enumerate(labels):
        group = group_of(name)
        if group is not None:
            matrix[i, VALENCE3.labels.index(group)] = 1.0
    return matrix


def to_groups(probs: np.ndarray, labels: tuple[str, ...]) -> np.ndarray:
    """Three-group probabilities (negative, neutral, positive) from class probabilities.

    Surprise's mass is removed and the rest renormalised; where nothing is left
    (a pure-surprise output) the result is all zeros.
    """
    probs = np.asarray(probs, dtype=np.float32)
    if probs.shape[-1] != len(labels):
        raise ValueError(f"probabilities have {probs.shape[-1]} classes, labels have {len(labels)}")
    grouped = probs @ group_matrix(labels)
    total = grouped.sum(axis=-1, keepdims=True)
    return np.divide(grouped, total, out=np.zeros_like(grouped), where=total > 1e-8)


def valence_weights(labels: tuple[str, ...]) -> np.ndarray:
    """Per-class valence: +1 positive, -1 negative, 0 for neutral and surprise."""
    signs = {POSITIVE: 1.0, NEGATIVE: -1.0}
    return np.array([signs.get(group_of(name) or "", 0.0) for name in labels], dtype=np.float64)


def valence(probs: np.ndarray, labels: tuple[str, ...]) -> np.ndarray:
    """Valence in [-1, 1]: P(positive) - P(negative), surprise and neutral counting 0, not renormalised.

    Linear in the probabilities, so the valence of smoothed (averaged) probabilities equals the smoothed
    (averaged) valence.
    """
    probs = np.asarray(probs, dtype=np.float64)
    if probs.shape[-1] != len(labels):
        raise ValueError(f"probabilities have {probs.shape[-1]} classes, labels have {len(labels)}")
    return np.clip(probs @ valence_weights(labels), -1.0, 1.0)
