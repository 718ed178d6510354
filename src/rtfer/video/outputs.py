"""What ``rtfer analyze`` writes for one video: ``timeline.csv``, ``faces.csv``, ``summary.json``, ``timeline.png``
(and ``annotated.mp4``), all or nothing.

Shared by the CLI, the batch runner and anything else that analyses a video into a folder.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rtfer.errors import RtferError

if TYPE_CHECKING:
    from rtfer.video.analyze import FrameHook


def write_analysis(video: str | int | Path, out_dir: str | Path, annotate: bool = False, every: int = 1,
                   fps: float | None = None, on_frame: FrameHook | None = None, source_name: str | None = None,
                   **options: Any) -> dict[str, Any]:
    """Analyse ``video`` and write its results to ``out_dir``; returns the summary.

    Everything is written to a scratch folder first and moved into ``out_dir`` only when complete, so a
    failed run never leaves files that look like results; files of an earlier run are put back if a move
    fails. ``on_frame`` sees every processed frame; ``source_name`` replaces the video's path in the
    summary (the app stores uploads under its own names). ``options`` go to
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
    if out_dir.exists() and not out_dir.is_dir():
        raise RtferError(f"{out_dir} exists and is not a folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".rtfer-partial-", dir=out_dir))
    writer = None
    try:
        if annotate:
            writer = AnnotatedWriter(scratch / "annotated.mp4", every=every, fps=fps)
        hooks = [hook for hook in (writer.write if writer else None, on_frame) if hook is not None]

        def each_frame(frame, result, timeline) -> None:
            for hook in hooks:
                hook(frame, result, timeline)

        timeline = analyze_video(video, every=every, fps=fps, on_frame=each_frame if hooks else None, **options)
        if writer:
            writer.close()
        if not timeline.rows:
            raise RtferError(f"{video}: no frames could be read")
        if source_name is not None:
            timeline.info.source = source_name
        timeline.to_csv(scratch / "timeline.csv")
        timeline.faces_to_csv(scratch / "faces.csv")
        summary = timeline.summary()
        (scratch / "summary.json").write_text(json.dumps(summary, indent=1))
        from rtfer.report.timeline_plot import plot_timeline  # matplotlib: loaded when a plot is drawn

        plot_timeline(timeline, scratch / "timeline.png")
        _move_all(scratch, out_dir)
    finally:
        if writer:
            writer.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return summary


def _move_all(scratch: Path, out_dir: Path) -> None:
    """Move every result from ``scratch`` into ``out_dir``, or none: on a failure the moved ones are
    removed and the files they replaced put back."""
    results = sorted(p for p in scratch.iterdir() if p.is_file())
    blocked = [out_dir / p.name for p in results if (out_dir / p.name).is_dir()]
    if blocked:
        raise RtferError(f"cannot write {blocked[0]}: a folder of that name is in the way")
    backup = scratch / ".previous"
    backup.mkdir()
    moved: list[Path] = []
    try:
        for result in results:
            target = out_dir / result.name
            if target.exists():
                target.replace(backup / result.name)
            result.replace(target)
            moved.append(target)
    except OSError as exc:
        for target in moved:
            target.unlink(missing_ok=True)
        for previous in backup.iterdir():
            previous.replace(out_dir / previous.name)
        raise RtferError(f"cannot write the results into {out_dir}: {exc.strerror or exc}") from exc
