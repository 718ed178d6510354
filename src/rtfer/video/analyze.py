"""RT-FER over a whole video: faces, emotions, valence, smoothing and change points per frame."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from rtfer.faces import FaceDetector, FaceTracker, as_gray, pick_subject
from rtfer.runtime.recognizer import EmotionRecognizer
from rtfer.runtime.weights import DEFAULT_MODEL
from rtfer.taxonomy import valence
from rtfer.video.changes import offline_change_points
from rtfer.video.smoothing import ProbabilitySmoother
from rtfer.video.sources import VideoSource, frame_step
from rtfer.video.timeline import FrameResult, Timeline

log = logging.getLogger(__name__)

FrameHook = Callable[[np.ndarray, FrameResult, Timeline], None]


def _chunks(frames: Iterator, size: int) -> Iterator[list]:
    chunk = []
    for item in frames:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def score_frame(result: FrameResult, smoother: ProbabilitySmoother, labels: tuple[str, ...]) -> FrameResult:
    """Fill in valence, smoothed probabilities, smoothed valence and the (smoothed) label of a frame
    whose ``probs`` are set (or ``None`` when no face was seen). Shared by file and live analysis."""
    if result.probs is not None:
        result.valence = float(valence(result.probs, labels))
    smooth = smoother.update(result.time_s, result.probs)
    if smooth is not None:
        result.smooth_probs = smooth
        result.valence_smooth = float(valence(smooth, labels))
        if result.face is not None:
            result.label = labels[int(np.argmax(smooth))]
    return result


def analyze_video(source: str | int | Path, weights: str | Path = DEFAULT_MODEL, every: int = 1,
                  fps: float | None = None, track_id: int | None = None, detect_every: int = 8,
                  backend: str = "auto", batch_frames: int = 32, progress: bool = True,
                  recognizer: EmotionRecognizer | None = None, on_frame: FrameHook | None = None,
                  min_cutoff: float = 0.4, beta: float = 0.6, hold_s: float = 0.5,
                  landmarks: int | None = None, rescan_s: float = 2.0) -> Timeline:
    """Analyse a video file, frame folder, webcam index or stream URL.

    The subject is the largest face, or the face with ``track_id``. Faces are re-detected near their
    tracks every ``detect_every`` processed frames and searched for in the whole frame every ``rescan_s``
    seconds (so a new face is found within that time; a lost track triggers a full search at once). The
    FER crop only needs the eyes, so faces are followed with dlib's 5-point landmarks (three times cheaper
    than 68); models trained on the 68-landmark crop get 68 (``landmarks`` overrides). Faces are
    classified in batches of ``batch_frames`` frames; models with an intensity head add per-emotion
    intensities to each row. ``on_frame(frame, result, timeline)`` sees every processed frame in order
    (the annotated-video writer uses it).
    """
    if recognizer is None:
        recognizer = EmotionRecognizer(weights, backend)
        recognizer.detector = FaceDetector(landmarks=landmarks or recognizer.landmarks_needed)
    smoother = ProbabilitySmoother(min_cutoff, beta, hold_s)
    labels = recognizer.labels
    started = time.perf_counter()
    with VideoSource(source) as video:
        timeline = Timeline(video.info, labels, Path(str(weights)).stem, has_intensity=recognizer.has_intensity)
        step = frame_step(video.info.fps, every, fps)
        total = video.info.frame_count // step or None
        rate = video.info.fps / step if video.info.fps > 0 else 30.0
        tracker = FaceTracker(recognizer.detector, detect_every=detect_every, full_every=round(rescan_s * rate))
        bar = tqdm(total=total, desc="analysing", unit="frame", disable=not progress, leave=False)
        # gray once per frame, for the tracker and the crop; the colour frame is kept only for on_frame
        frames = ((i, t, frame if on_frame else None, as_gray(frame)) for i, t, frame in video.frames(every, fps))
        for chunk in _chunks(frames, batch_frames):
            grays = [gray for *_, gray in chunk]
            subjects = [pick_subject(tracker.update(gray), track_id) for gray in grays]
            crops = [recognizer.crop(gray, face) for gray, face in zip(grays, subjects, strict=True)
                     if face is not None]
            probs, intensity = recognizer.classify_with_intensity(crops)
            outputs = iter(zip(probs, intensity if intensity is not None else [None] * len(probs), strict=True))
            for (index, t, frame, _), face in zip(chunk, subjects, strict=True):
                p, i = next(outputs) if face else (None, None)
                result = score_frame(FrameResult(index, t, face, p, intensity=i), smoother, labels)
                timeline.rows.append(result)
                if on_frame is not None:
                    on_frame(frame, result, timeline)
            bar.update(len(chunk))
            elapsed = time.perf_counter() - started
            bar.set_postfix(fps=f"{len(timeline.rows) / max(elapsed, 1e-6):.0f}", refresh=False)
        bar.close()
    timeline.processing_seconds = time.perf_counter() - started
    frames = np.array([r.frame for r in timeline.rows])
    timeline.change_points = offline_change_points(timeline.series("time_s"), timeline.series("valence_smooth"),
                                                   frames, [r.label for r in timeline.rows])
    return timeline
