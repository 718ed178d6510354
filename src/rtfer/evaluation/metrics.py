"""Classification metrics in one JSON-ready dict, and k-fold summaries."""

from __future__ import annotations

from typing import Any

import numpy as np


def classification_report(y_true: np.ndarray, y_pred: np.ndarray, labels: list[str] | tuple[str, ...]
                          ) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix.

    ``confusion[i][j]`` counts faces of true class ``i`` predicted as ``j``. Macro-F1 averages over
    the classes present in ``y_true`` (a class absent from the data would otherwise count as F1 0).
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    classes = len(labels)
    confusion = np.zeros((classes, classes), dtype=np.int64)
    known = (y_pred >= 0) & (y_pred < classes)  # -1: no answer (e.g. no face found), wrong for every class
    np.add.at(confusion, (y_true[known], y_pred[known]), 1)
    support = np.bincount(y_true, minlength=classes)[:classes]
    hits = np.diag(confusion).astype(float)
    predicted = confusion.sum(axis=0)
    precision = np.divide(hits, predicted, out=np.zeros(classes), where=predicted > 0)
    recall = np.divide(hits, support, out=np.zeros(classes), where=support > 0)
    both = precision + recall
    f1 = np.divide(2 * precision * recall, both, out=np.zeros(classes), where=both > 0)
    present = support > 0
    return {
        "n": len(y_true),
        "labels": list(labels),
        "accuracy": float((y_true == y_pred).mean()) if len(y_true) else 0.0,
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "per_class": {
            name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                   "support": int(support[i])}
            for i, name in enumerate(labels)
        },
        "confusion": confusion.tolist(),
    }


def summarize_folds(fold_reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and (population) standard deviation of accuracy and macro-F1 over folds."""
    summary: dict[str, Any] = {"folds": len(fold_reports)}
    for key in ("accuracy", "macro_f1"):
        values = np.array([r[key] for r in fold_reports], dtype=float)
        summary[key] = {"mean": float(values.mean()), "std": float(values.std()),
                        "per_fold": values.round(6).tolist()}
    total = sum(r["n"] for r in fold_reports)
    summary["pooled_accuracy"] = sum(r["accuracy"] * r["n"] for r in fold_reports) / max(total, 1)
    summary["n"] = total
    return summary
