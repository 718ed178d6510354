"""RT-FER over a whole video: faces, emotions, valence, smoothing and change points per frame."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from rtfer.faces import FaceDetector, FaceTracker, as_gray
from rtfer.runtime.recognizer import EmotionRecognizer
from rtfer.runtime.weights import DEFAULT_MODEL
from rtfer.video.baseline import Baseline, apply_baseline, baseline_seconds
from rtfer.video.changes import MIN_DURATION_S, MIN_EFFECT, detect_changes
from rtfer.video.people import CUT_THRESHOLD, People, SceneCuts
from rtfer.video.scoring import SubjectScorer
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


def analyze_video(source: str | int | Path, weights: str | Path = DEFAULT_MODEL, every: int = 1,
                  fps: float | None = None, track_id: int | None = None, detect_every: int = 8,
                  backend: str = "auto", batch_frames: int = 32, progress: bool = True,
                  recognizer: EmotionRecognizer | None = None, on_frame: FrameHook | None = None,
                  smooth_s: float = 1.0, label_margin: float = 0.1, hold_s: float = 0.5,
                  change_min_s: float = MIN_DURATION_S, change_effect: float = MIN_EFFECT,
                  landmarks: int | None = None, rescan_s: float = 2.0,
                  baseline: str | Path | None = None, subject: str | None = None,
                  cut_threshold: float = CUT_THRESHOLD) -> Timeline:
    """Analyse a video file, frame folder, webcam index or stream URL.

    Every face is classified (``Timeline.faces``, for ``faces.csv``); tracks end at scene cuts and are
    re-identified as people with a face descriptor (:mod:`rtfer.video.people`). The subject, whose
    timeline the rows are, is ``subject`` (``largest``, ``track:N`` or ``face:IMAGE``; ``track_id`` is
    ``track:N``); while it is out of view its rows have no face. Faces are re-detected near their
    tracks every ``detect_every`` processed frames and searched for in the whole frame every ``rescan_s``
    seconds (so a new face is found within that time; a lost track triggers a full search at once). The
    FER crop only needs the eyes, so faces are followed with dlib's 5-point landmarks (three times cheaper
    than 68); models trained on the 68-landmark crop get 68 (``landmarks`` overrides). Faces are
    classified in batches of ``batch_frames`` frames; models with an intensity head add per-emotion
    intensities to each row. ``on_frame(frame, result, timeline)`` sees every processed frame in order
    (the annotated-video writer uses it). ``smooth_s``, ``label_margin`` and ``hold_s`` set the smoothing
    (:mod:`rtfer.video.scoring`); ``change_min_s`` and ``change_effect`` what counts as a change
    (:mod:`rtfer.video.changes`). ``baseline``: the same person at rest, a clip or frame folder, or
    ``"20s"`` for the first 20 s of this video; rows then also carry valence corrected for it
    (:mod:`rtfer.video.baseline`).
    """
    if recognizer is None:
        recognizer = EmotionRecognizer(weights, backend)
        recognizer.detector = FaceDetector(landmarks=landmarks or recognizer.landmarks_needed)
    labels = recognizer.labels
    scorer = SubjectScorer(labels, smooth_s, label_margin, hold_s)
    seconds = None if baseline is None else baseline_seconds(baseline)
    resting = None
    if baseline is not None and seconds is None:  # a calibration clip of the same person: its largest face
        rest = analyze_video(baseline, recognizer=recognizer, progress=False, every=every, fps=fps)
        resting = Baseline.from_probs(np.array([r.probs for r in rest.rows if r.probs is not None]), labels,
                                      str(baseline))
    people = People(f"track:{track_id}" if track_id is not None else subject, recognizer.detector)
    scenes = SceneCuts(cut_threshold)
    started = time.perf_counter()
    with VideoSource(source) as video:
        timeline = Timeline(video.info, labels, Path(str(weights)).stem, has_intensity=recognizer.has_intensity,
                            settings={"smooth_s": smooth_s, "label_margin": label_margin, "hold_s": hold_s,
                                      "change_min_s": change_min_s, "change_effect": change_effect})
        step = frame_step(video.info.fps, every, fps)
        total = video.info.frame_count // step or None
        rate = video.info.fps / step if video.info.fps > 0 else 30.0
        tracker = FaceTracker(recognizer.detector, detect_every=detect_every, full_every=round(rescan_s * rate))
        bar = tqdm(total=total, desc="analysing", unit="frame", disable=not progress, leave=False)
        def observed() -> Iterator[tuple]:
            """Each frame tracked and its people found as it is decoded; only the gray image is kept for the
            batch (and the colour frame when ``on_frame`` needs it), so memory does not grow with frame size."""
            for index, t, frame in video.frames(every=every, fps=fps):
                gray = as_gray(frame)  # once per frame, for the tracker and the crop
                if gray is not None and scenes.is_cut(gray):
                    tracker.reset()  # a new shot: no box is carried over; people are found again by descriptor
                    timeline.scene_cuts.append(t)
                faces, face = people.update(frame, tracker.update(gray))
                yield index, t, frame if on_frame else None, gray, faces, face

        for chunk in _chunks(observed(), batch_frames):
            crops = [recognizer.crop(gray, other) for *_, gray, faces, _ in chunk for other in faces]
            probs, intensity = recognizer.classify_with_intensity(crops)
            first = 0
            for index, t, frame, _, faces, face in chunk:
                p = i = None
                for k, other in enumerate(faces):
                    timeline.faces.append((index, t, other, probs[first + k]))
                    if other is face:
                        p, i = probs[first + k], None if intensity is None else intensity[first + k]
                first += len(faces)
                result = scorer.score(FrameResult(index, t, face, p, intensity=i))
                timeline.rows.append(result)
                if on_frame is not None:
                    on_frame(frame, result, timeline)
            bar.update(len(chunk))
            elapsed = time.perf_counter() - started
            bar.set_postfix(fps=f"{len(timeline.rows) / max(elapsed, 1e-6):.0f}", refresh=False)
        bar.close()
    timeline.processing_seconds = time.perf_counter() - started
    timeline.people = people.to_dict()
    if seconds is not None:
        resting = Baseline.from_probs(np.array([r.probs for r in timeline.rows
                                                if r.probs is not None and r.time_s <= seconds]),
                                      labels, f"first {seconds:g} s of the video")
    if resting is not None:
        timeline.baseline = resting
        apply_baseline(timeline.rows, resting, SubjectScorer(labels, smooth_s, label_margin, hold_s))
    timeline.change_points = detect_changes(timeline.rows, change_min_s, change_effect)
    return timeline
