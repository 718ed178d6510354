"""How good are predicted emotion intensities, given that no data here are labelled with intensity?

Three checks on held-out faces:

* ranking: for each emotion, the ROC AUC of its intensity for faces of that emotion against all others
  (an intensity that ranks the right faces first);
* calibration: expected calibration error of intensity read as "this emotion is shown", over every
  face x emotion pair, in 10 equal-width bins;
* blends: held-out face pairs of different emotions (of one subject when subject ids are known) are
  blended in proportions lambda = 0, 0.25, ..., 1; a graded intensity rises with lambda. Reported as the
  mean Spearman correlation between lambda and the first face's emotion intensity, and the share of
  pairs where it rises monotonically.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rtfer.runtime.engine import Engine

BLEND_STEPS = (0.0, 0.25, 0.5, 0.75, 1.0)


def roc_auc(positive: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve: the chance that a positive outscores a negative (ties count half)."""
    from scipy.stats import rankdata  # scipy.stats takes most of a second to import: only models with the head

    ranks = rankdata(scores)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    return float((ranks[positive.astype(bool)].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def ranking_and_calibration(intensity: np.ndarray, y_true: np.ndarray, labels: list[str], bins: int = 10
                            ) -> dict[str, Any]:
    onehot = np.eye(len(labels))[y_true]
    auc = {name: roc_auc(onehot[:, k], intensity[:, k])
           for k, name in enumerate(labels) if 0 < onehot[:, k].sum() < len(onehot)}
    flat_p, flat_y = intensity.ravel(), onehot.ravel()
    edges = np.minimum((flat_p * bins).astype(int), bins - 1)
    ece = sum(abs(flat_p[edges == b].mean() - flat_y[edges == b].mean()) * (edges == b).mean()
              for b in range(bins) if (edges == b).any())
    return {"auc": auc, "mean_auc": float(np.mean(list(auc.values()))) if auc else None,
            "ece": float(ece), "brier": float(np.mean((flat_p - flat_y) ** 2))}


def blend_pairs(y_true: np.ndarray, groups: np.ndarray | None, count: int, seed: int = 0) -> np.ndarray:
    """Up to ``count`` index pairs (a, b) of different emotions, of one subject when ``groups`` are given."""
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(count * 20):
        a = int(rng.integers(len(y_true)))
        pool = np.flatnonzero((y_true != y_true[a]) & ((groups == groups[a]) if groups is not None else True))
        if len(pool):
            pairs.append((a, int(rng.choice(pool))))
        if len(pairs) == count:
            break
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def blend_response(engine: Engine, images: np.ndarray, y_true: np.ndarray,
                   groups: np.ndarray | None, count: int = 300) -> dict[str, Any]:
    pairs = blend_pairs(y_true, groups, count)
    if not len(pairs):
        return {"pairs": 0}
    a, b = images[pairs[:, 0]].astype(np.float32), images[pairs[:, 1]].astype(np.float32)
    curves = np.stack([engine.predict_with_intensity(np.rint(lam * a + (1 - lam) * b).astype(np.uint8))[1]
                       [np.arange(len(pairs)), y_true[pairs[:, 0]]] for lam in BLEND_STEPS], axis=1)
    from scipy.stats import spearmanr

    rho = [spearmanr(BLEND_STEPS, curve).statistic for curve in curves]
    return {"pairs": len(pairs), "same_subject": groups is not None, "lambdas": list(BLEND_STEPS),
            "mean_intensity_by_lambda": [round(float(v), 4) for v in curves.mean(axis=0)],
            "mean_spearman": float(np.nanmean(rho)),
            "monotonic_share": float(np.mean(np.all(np.diff(curves, axis=1) >= 0, axis=1)))}


def intensity_report(engine: Engine, images: np.ndarray, y_true: np.ndarray, labels: list[str],
                     groups: np.ndarray | None = None) -> dict[str, Any] | None:
    """All three checks for a model with an intensity head whose classes are ``labels``; else ``None``."""
    if not engine.has_intensity or list(engine.meta.labels) != labels:
        return None
    intensity = engine.predict_with_intensity(images)[1]
    return {**ranking_and_calibration(intensity, y_true, labels),
            "blends": blend_response(engine, images, y_true, groups)}
