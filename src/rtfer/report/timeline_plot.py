"""``timeline.png``: valence over time with its uncertainty band, bands coloured by the shown emotion, and
change points."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch

from rtfer.report.palette import EMOTION_COLORS
from rtfer.video.timeline import Timeline


def plot_timeline(timeline: Timeline, path: str | Path) -> None:
    times = timeline.series("time_s")
    raw = timeline.series("valence")
    smooth = timeline.series("valence_smooth")
    fig, ax = plt.subplots(figsize=(11, 4))
    step = float(np.median(np.diff(times))) if len(times) > 1 else 0.04
    labels = [r.label for r in timeline.rows]
    start = 0
    for i in range(1, len(labels) + 1):  # one band per run of the same (smoothed) label
        if i == len(labels) or labels[i] != labels[start]:
            if labels[start]:
                ax.axvspan(times[start], times[i - 1] + step, color=EMOTION_COLORS.get(labels[start], "#fff"),
                           alpha=0.25, linewidth=0)
            start = i
    ax.fill_between(times, timeline.series("valence_low"), timeline.series("valence_high"), color="#0072B2",
                    alpha=0.18, linewidth=0, label="spread of the per-frame readings (±1 SD)")
    ax.plot(times, raw, color="#666666", linewidth=0.6, alpha=0.6, label="valence (per frame)")
    ax.plot(times, smooth, color="black", linewidth=1.8, label="valence (smoothed)")
    if timeline.baseline is not None:
        ax.plot(times, timeline.series("valence_corrected_smooth"), color="#D55E00", linewidth=1.8,
                label="valence corrected for the person's baseline")
    ax.axhline(0, color="#444444", linewidth=0.8, linestyle=":")
    for change in timeline.change_points:
        ax.axvline(change.time_s, color="#CC0000", linewidth=1.2, linestyle="--")
        ax.annotate(f"{change.before} → {change.after}", (change.time_s, 0.95), fontsize=8, rotation=90,
                    va="top", ha="right", color="#CC0000")
    ax.set(xlim=(times[0] if len(times) else 0, (times[-1] + step) if len(times) else 1), ylim=(-1.05, 1.05),
           xlabel="time (s)", ylabel="valence  (negative ← 0 → positive)",
           title=f"{Path(timeline.info.source).name}: valence over time ({timeline.model})")
    present = [name for name in timeline.labels if name in set(labels)]
    handles = ax.get_legend_handles_labels()[0] + [Patch(color=EMOTION_COLORS.get(n, "#fff"), alpha=0.4, label=n)
                                                  for n in present]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    ax.grid(alpha=0.2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
