"""Figures of a scored model: the confusion matrix and the most confident mistakes."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np


def plot_confusion(confusion: list[list[int]], labels: list[str], path: Path, title: str = "") -> None:
    """Row-normalised confusion matrix with counts (rows = true class)."""
    matrix = np.asarray(confusion, dtype=float)
    rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    size = 1.0 + 0.75 * len(labels)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set(xlabel="predicted", ylabel="true", title=title or "Confusion matrix (row-normalised)")
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, f"{rates[i, j]:.2f}\n{int(matrix[i, j])}", ha="center", va="center", fontsize=7,
                    color="white" if rates[i, j] > 0.5 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_error_gallery(images: np.ndarray, y_true: np.ndarray, probs: np.ndarray, labels: list[str],
                       path: Path, count: int = 24) -> None:
    """The most confident mistakes: each face with its true label and the wrong prediction."""
    pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(pred != y_true)
    wrong = wrong[np.argsort(-probs[wrong, pred[wrong]])][:count]
    cols = 6
    rows = max(1, int(np.ceil(len(wrong) / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.7, rows * 2.0))
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, i in zip(np.ravel(axes)[: len(wrong)], wrong, strict=True):
        ax.imshow(images[i], cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"true {labels[y_true[i]]}\npred {labels[pred[i]]} {probs[i, pred[i]]:.2f}", fontsize=7)
    fig.suptitle("Most confident mistakes")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
