"""What ``rtfer analyze`` writes for one video: ``timeline.csv``, ``faces.csv``, ``summary.json``, ``timeline.png``
(and ``annotated.mp4``), all or nothing.

Shared by the CLI, the batch runner and anything else that analyses a video into a folder.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from rtfer.errors import RtferError


def write_analysis(video: str | int | Path, out_dir: str | Path, annotate: bool = False, every: int = 1,
                   fps: float | None = None, **options: Any) -> dict[str, Any]:
    """Analyse ``video`` and write its results to ``out_dir``; returns the summary.

    Everything is written to a scratch folder first and moved into ``out_dir`` only when complete, so a
    failed run never leaves files that look like results. ``options`` go to
    :func:`rtfer.video.analyze.analyze_video`.
    """
    from rtfer.video.analyze import analyze_video
    from rtfer.video.annotate import AnnotatedWriter

    if every < 1 or (fps is not None and fps <= 0):
        raise RtferError("--every must be at least 1 and --fps positive")
    for name in ("smooth_s", "change_min_s", "change_effect"):
        if options.get(name) is not None and options[name] <= 0:
            raise RtferError(f"--{name.replace('_', '-')} must be positive")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".rtfer-partial-", dir=out_dir))
    writer = None
    try:
        if annotate:
            writer = AnnotatedWriter(scratch / "annotated.mp4", every=every, fps=fps)
        timeline = analyze_video(video, every=every, fps=fps, on_frame=writer.write if writer else None, **options)
        if writer:
            writer.close()
        if not timeline.rows:
            raise RtferError(f"{video}: no frames could be read")
        timeline.to_csv(scratch / "timeline.csv")
        timeline.faces_to_csv(scratch / "faces.csv")
        summary = timeline.summary()
        (scratch / "summary.json").write_text(json.dumps(summary, indent=1))
        from rtfer.report.timeline_plot import plot_timeline  # matplotlib: loaded when a plot is drawn

        plot_timeline(timeline, scratch / "timeline.png")
        for item in scratch.iterdir():
            item.replace(out_dir / item.name)
    finally:
        if writer:
            writer.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return summary
