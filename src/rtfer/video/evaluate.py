"""Video-level evaluation: ``rtfer evaluate-video DIR``, where DIR holds ``<emotion>/<clip>`` (video files or
frame folders), each clip showing one emotion.

Each clip is analysed as ``rtfer analyze`` would (the same smoothing, shown label and change detector);
its *dominant label* is the shown label of most frames with a face, its valence the mean per-frame valence
(raw, and corrected for a baseline when ``baseline_from`` names the emotion folder, usually ``neutral``,
whose clips show the person at rest). Over the clips: accuracy and macro-F1 of the dominant label, the
share of clips whose mean valence has the sign of their emotion (over the emotions that have one), the
travel per second of the smoothed valence (jitter) and the changes per minute (each clip holds one
emotion, so every change counts as false). The baseline clips are also scored: their corrected valence is
near 0 by construction. The JSON has the keys of ``rtfer evaluate --json`` (n, labels,
accuracy, macro_f1, per_class, confusion) and the video measures.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from rtfer.errors import DataError
from rtfer.faces import FaceDetector
from rtfer.runtime.recognizer import EmotionRecognizer
from rtfer.runtime.weights import DEFAULT_MODEL
from rtfer.taxonomy import NEGATIVE, POSITIVE, canonical, group_of, valence
from rtfer.video.analyze import analyze_video
from rtfer.video.baseline import Baseline
from rtfer.video.timeline import Timeline

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm"}


def find_clips(root: str | Path) -> list[tuple[str, Path]]:
    """(emotion, clip) for every video file or frame folder under ``root/<emotion>/``."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"not a folder: {root}")
    clips = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        try:
            emotion = canonical(folder.name)
        except ValueError as exc:
            raise DataError(f"{folder}: {exc}") from None
        clips += [(emotion, item) for item in sorted(folder.iterdir())
                  if item.is_dir() or item.suffix.lower() in VIDEO_SUFFIXES]
    if not clips:
        raise DataError(f"{root}: no clips; expected <emotion>/<clip>.mp4 or <emotion>/<frame folder>/")
    return clips


def _travel_per_s(timeline: Timeline) -> float | None:
    times, smooth = timeline.series("time_s"), timeline.series("valence_smooth")
    pairs = ~np.isnan(smooth[1:]) & ~np.isnan(smooth[:-1])
    seconds = float(np.diff(times)[pairs].sum())
    return float(np.abs(np.diff(smooth))[pairs].sum()) / seconds if seconds > 0 else None


def _classification(truth: list[int], predicted: list[int], labels: tuple[str, ...]) -> dict[str, Any]:
    confusion = np.zeros((len(labels), len(labels)), dtype=int)
    for t, p in zip(truth, predicted, strict=True):
        confusion[t, p] += 1
    support, found, hits = confusion.sum(axis=1), confusion.sum(axis=0), np.diag(confusion)
    precision = np.divide(hits, found, out=np.zeros(len(labels)), where=found > 0)
    recall = np.divide(hits, support, out=np.zeros(len(labels)), where=support > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(len(labels)),
                   where=precision + recall > 0)
    return {"n": len(truth), "labels": list(labels),
            "accuracy": float(hits.sum() / max(len(truth), 1)),
            "macro_f1": float(f1[support > 0].mean()) if (support > 0).any() else 0.0,
            "per_class": {name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                                 "support": int(support[i])} for i, name in enumerate(labels)},
            "confusion": confusion.tolist()}


def evaluate_videos(root: str | Path, weights: str | Path = DEFAULT_MODEL, baseline_from: str | None = None,
                    progress: bool = True) -> dict[str, Any]:
    """The report described in the module docstring."""
    clips = find_clips(root)
    recognizer = EmotionRecognizer(weights)
    recognizer.detector = FaceDetector(landmarks=recognizer.landmarks_needed)  # as rtfer analyze follows faces
    labels = recognizer.labels
    unknown = sorted({emotion for emotion, _ in clips} - set(labels))
    if unknown:
        raise DataError(f"{root}: the model's classes are {', '.join(labels)}; no class for {', '.join(unknown)}")
    timelines = [analyze_video(clip, recognizer=recognizer, progress=False)
                 for _, clip in tqdm(clips, desc="clips", disable=not progress, leave=False)]
    baseline = None
    if baseline_from is not None:
        resting = canonical(baseline_from)
        probs = [r.probs for (emotion, _), tl in zip(clips, timelines, strict=True) if emotion == resting
                 for r in tl.rows if r.probs is not None]
        baseline = Baseline.from_probs(np.array(probs), labels, f"{root}/{baseline_from}")
    rows, truth, predicted = [], [], []
    for (emotion, clip), timeline in zip(clips, timelines, strict=True):
        probs = np.array([r.probs for r in timeline.rows if r.probs is not None])
        shown = Counter(r.label for r in timeline.rows if r.face is not None and r.label)
        dominant = shown.most_common(1)[0][0] if shown else None
        minutes = timeline.info.duration_s / 60 if timeline.info.duration_s else len(timeline.rows) / 30 / 60
        rows.append({
            "clip": str(clip), "emotion": emotion, "dominant": dominant, "frames": len(timeline.rows),
            "frames_with_face": len(probs),
            "valence": None if not len(probs) else round(float(valence(probs, labels).mean()), 4),
            "valence_corrected": None if baseline is None or not len(probs) else
            round(float(valence(baseline.correct(probs), labels).mean()), 4),
            "travel_per_s": _travel_per_s(timeline), "changes": len(timeline.change_points),
            "minutes": minutes})
        truth.append(labels.index(emotion))
        predicted.append(labels.index(dominant) if dominant else -1)
    scored = [(t, p) for t, p in zip(truth, predicted, strict=True) if p >= 0]
    report = _classification([t for t, _ in scored], [p for _, p in scored], labels)
    report["n"] = len(clips)
    report["accuracy"] = sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(clips)
    report["clips_without_face"] = sum(p < 0 for p in predicted)

    def sign_accuracy(key: str) -> float | None:
        signed = [(group_of(r["emotion"]), r[key]) for r in rows
                  if group_of(r["emotion"]) in (POSITIVE, NEGATIVE) and r[key] is not None]
        if not signed:
            return None
        return sum((value > 0) == (group == POSITIVE) for group, value in signed) / len(signed)

    travel = [r["travel_per_s"] for r in rows if r["travel_per_s"] is not None]
    report.update({
        "data": str(root), "weights": str(weights), "baseline": None if baseline is None else baseline.to_dict(),
        "valence_sign_accuracy": sign_accuracy("valence"),
        "valence_sign_accuracy_corrected": sign_accuracy("valence_corrected") if baseline else None,
        "jitter_per_s": float(np.mean(travel)) if travel else None,
        "false_changes_per_min": sum(r["changes"] for r in rows) / max(sum(r["minutes"] for r in rows), 1e-9),
        "clips": [{k: v for k, v in r.items() if k != "minutes"} for r in rows],
    })
    return report
