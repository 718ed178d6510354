"""Training curves (a run's confusion matrix and mistakes are drawn by ``rtfer.evaluation.figures``)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def plot_curves(history: list[dict[str, float]], path: Path) -> None:
    """Train/val accuracy and loss per epoch (the paper's Fig. 5)."""
    epochs = [row["epoch"] for row in history]
    fig, (acc_ax, loss_ax) = plt.subplots(1, 2, figsize=(10, 4))
    for key, style in (("train", "-"), ("val", "--")):
        if all(f"{key}_acc" in row for row in history):
            acc_ax.plot(epochs, [row[f"{key}_acc"] for row in history], style, marker="o", label=key)
            loss_ax.plot(epochs, [row[f"{key}_loss"] for row in history], style, marker="o", label=key)
    acc_ax.set(xlabel="epoch", ylabel="accuracy", title="Accuracy")
    loss_ax.set(xlabel="epoch", ylabel="loss", title="Loss")
    for ax in (acc_ax, loss_ax):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
