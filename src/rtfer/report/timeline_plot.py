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
    fig, ax = plt.subplots(figsize=(11, 5))
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
    span = (times[-1] - times[0]) if len(times) > 1 else 1.0
    last_at: list[float] = []  # per label row above the plot: where its last number ends
    for number, change in enumerate(timeline.change_points, 1):
        ax.axvline(change.time_s, color="#CC0000", linewidth=1.2, linestyle="--")
        # numbered (the report lists the changes by number) above the axes, never over the line; a number
        # too close to the previous one on a row goes to the next row
        row = next((i for i, end in enumerate(last_at) if change.time_s - end > span * 0.025),
                   min(len(last_at), 2))
        last_at[row:row + 1] = [change.time_s]
        ax.annotate(str(number), (change.time_s, 1.0), xycoords=("data", "axes fraction"),
                    xytext=(0, 3 + 10 * row), textcoords="offset points", fontsize=8, ha="center", va="bottom",
                    color="#CC0000", annotation_clip=False)
    ax.set(xlim=(times[0] if len(times) else 0, (times[-1] + step) if len(times) else 1), ylim=(-1.05, 1.05),
           xlabel="time (s)", ylabel="valence  (negative ← 0 → positive)")
    ax.set_title(f"{Path(timeline.info.source).name}: valence over time ({timeline.model})", pad=36)
    present = [name for name in timeline.labels if name in set(labels)]
    handles = ax.get_legend_handles_labels()[0] + [Patch(color=EMOTION_COLORS.get(n, "#fff"), alpha=0.4, label=n)
                                                  for n in present]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    ax.grid(alpha=0.2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
