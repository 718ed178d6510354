"""One video of a batch, as a Dask task: analyse it into its folder, then mark the folder done.

The done-marker (``.rtfer-done.json``) is written last and holds the input's fingerprint (size, mtime and a
hash of its first and last MiB) and the analysis settings; a folder whose marker matches is finished, any
other is redone. Each worker process loads the recognizer once and reuses it for every video it gets.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

from rtfer import __version__

log = logging.getLogger(__name__)

MARKER = ".rtfer-done.json"
PROGRESS_TOPIC = "rtfer-batch-progress"
#: What a failed video leaves behind is removed; these are the files write_analysis may have moved in.
OUTPUT_FILES = ("timeline.csv", "faces.csv", "summary.json", "timeline.png", "annotated.mp4")
_EDGE = 1 << 20
_recognizers: dict[tuple, Any] = {}


def fingerprint(path: Path) -> dict[str, Any]:
    """Size, mtime and a hash of the first and last MiB: changes when the recording does, costs two reads."""
    stat = path.stat()
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        digest.update(handle.read(_EDGE))
        if stat.st_size > _EDGE:
            handle.seek(max(_EDGE, stat.st_size - _EDGE))
            digest.update(handle.read(_EDGE))
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "edges_sha256": digest.hexdigest()}


def marker_content(path: Path, settings: dict[str, Any]) -> dict[str, Any]:
    return {"input": fingerprint(path), "settings": settings, "rtfer": __version__}


def is_done(video: Path, out_dir: Path, settings: dict[str, Any]) -> bool:
    """Whether ``out_dir`` holds a finished analysis of this very input with these settings."""
    try:
        saved = json.loads((out_dir / MARKER).read_text())
        return saved == marker_content(video, settings) and (out_dir / "summary.json").is_file()
    except (OSError, ValueError):
        return False


def clear_outputs(out_dir: Path) -> None:
    """Remove the marker first (so an interrupted redo is never taken as done), then old results and scratch."""
    (out_dir / MARKER).unlink(missing_ok=True)
    for name in OUTPUT_FILES:
        (out_dir / name).unlink(missing_ok=True)
    for scratch in out_dir.glob(".rtfer-partial-*"):
        shutil.rmtree(scratch, ignore_errors=True)


def remove_empty(folder: Path, root: Path) -> None:
    """Remove ``folder`` and its parents up to ``root`` while they are empty (a failed video leaves none)."""
    while folder != root and folder.is_relative_to(root):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def _worker_threads(requested: int | None) -> int:
    """ONNX/OpenCV threads per task: as asked, else this machine's cores shared by the worker's task slots."""
    if requested:
        return requested
    try:
        from distributed import get_worker

        slots = get_worker().state.nthreads
    except (ImportError, ValueError):
        slots = 1
    return max(1, (os.cpu_count() or 1) // max(1, slots))


def _recognizer(weights: str, backend: str, threads: int):
    """The worker process's recognizer for these settings, loaded on first use."""
    key = (weights, backend, threads)
    if key not in _recognizers:
        import cv2

        from rtfer.faces import FaceDetector
        from rtfer.runtime.recognizer import EmotionRecognizer

        cv2.setNumThreads(threads)
        os.environ["RTFER_THREADS"] = str(threads)  # ONNX Runtime's threads; every task of a process agrees
        recognizer = EmotionRecognizer(weights, backend)
        recognizer.detector = FaceDetector(landmarks=recognizer.landmarks_needed)
        _recognizers[key] = recognizer
    return _recognizers[key]


class _Progress:
    """Sends the share of the video done to the client, at most once a second, through Dask's event log."""

    def __init__(self, video_id: str):
        self.video_id = video_id
        self.last = 0.0
        try:
            from distributed import get_worker

            self.worker = get_worker()
        except (ImportError, ValueError):
            self.worker = None

    def __call__(self, frame, result, timeline) -> None:
        now = time.monotonic()
        if self.worker is None or now - self.last < 1.0 or not timeline.info.frame_count:
            return
        self.last = now
        share = min(1.0, result.frame / timeline.info.frame_count)
        self.worker.log_event(PROGRESS_TOPIC, {"id": self.video_id, "share": share})


def analyse_video(video: str, video_id: str, out_root: str, settings: dict[str, Any],
                  threads: int | None = None) -> dict[str, Any]:
    """Analyse one video into ``out_root/video_id``; never raises for a bad video, returns its record.

    ``settings`` are the options of ``rtfer analyze`` (weights, every, fps, backend, ...), passed on as
    they are, so an option added there needs no change here.
    """
    from rtfer.video.outputs import write_analysis

    root = Path(out_root)
    out_dir = root / video_id
    started = time.perf_counter()
    record: dict[str, Any] = {"id": video_id, "path": video}
    options = dict(settings)
    threads = _worker_threads(threads)
    try:
        recognizer = _recognizer(str(options.get("weights")), options.get("backend", "auto"), threads)
        clear_outputs(out_dir)
        summary = write_analysis(video, out_dir, recognizer=recognizer, progress=False,
                                 on_frame=_Progress(video_id), **options)
        (out_dir / MARKER).write_text(json.dumps(marker_content(Path(video), settings)))
    except Exception as exc:  # one bad video is reported and never stops the others
        reason = " ".join(str(exc).removeprefix(f"{video}: ").split()) or type(exc).__name__
        log.warning("%s: %s", video, reason)
        clear_outputs(out_dir)
        remove_empty(out_dir, root)
        record.update(status="failed", reason=reason[:500])
    else:
        record.update(status="analysed", reason="", summary=summary)
    record["seconds"] = round(time.perf_counter() - started, 3)
    return record
