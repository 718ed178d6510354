"""The result of analysing a video: one row per processed frame, change points and a summary."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rtfer.faces import Face
from rtfer.taxonomy import valence
from rtfer.video.changes import ChangePoint
from rtfer.video.sources import VideoInfo


@dataclass
class FrameResult:
    """What was seen in one processed frame (``face`` is ``None`` when no face was found)."""

    frame: int
    time_s: float
    face: Face | None = None
    probs: np.ndarray | None = None
    label: str = ""
    valence: float | None = None
    valence_smooth: float | None = None
    valence_low: float | None = None    # the uncertainty band around valence_smooth
    valence_high: float | None = None
    valence_corrected: float | None = None          # ... relative to the person's baseline (when one is given)
    valence_corrected_smooth: float | None = None
    smooth_probs: np.ndarray | None = None
    intensity: np.ndarray | None = None
    corrected_probs: np.ndarray | None = None


VALENCE_COLUMNS = ("valence", "valence_smooth", "valence_low", "valence_high", "valence_corrected",
                   "valence_corrected_smooth")


def timeline_columns(labels: tuple[str, ...], intensity: bool = False, baseline: bool = False) -> list[str]:
    """``timeline.csv`` columns: raw probabilities ``p_``, the shown label, valence raw, smoothed, its band and
    corrected for the person's baseline (empty without one), the smoothed probabilities ``s_`` (the bars the
    label comes from); models with an intensity head add ``i_<emotion>``, a baseline ``c_<emotion>`` (the
    corrected probabilities)."""
    return ["frame", "time_s", "face_found", "track_id", "x", "y", "w", "h", *[f"p_{name}" for name in labels],
            "label", *VALENCE_COLUMNS, *[f"s_{name}" for name in labels],
            *([f"i_{name}" for name in labels] if intensity else []),
            *([f"c_{name}" for name in labels] if baseline else [])]


def _vector(values: np.ndarray | None, prefix: str, labels: tuple[str, ...]) -> dict[str, float | None]:
    return {f"{prefix}{name}": None if values is None else round(float(values[i]), 5)
            for i, name in enumerate(labels)}


def frame_record(row: FrameResult, labels: tuple[str, ...], intensity: bool = False,
                 baseline: bool = False) -> dict[str, Any]:
    """One processed frame as a ``timeline.csv`` row (a dict in column order, ``None`` for empty cells)."""
    face = row.face
    record: dict[str, Any] = {"frame": row.frame, "time_s": round(row.time_s, 4), "face_found": int(face is not None),
                              "track_id": face.track_id if face else None}
    record.update(zip("xywh", face.box if face else (None,) * 4, strict=True))
    record.update(_vector(row.probs, "p_", labels))
    record["label"] = row.label or None
    for key in VALENCE_COLUMNS:
        value = getattr(row, key)
        record[key] = None if value is None else round(value, 5)
    record.update(_vector(row.smooth_probs, "s_", labels))
    if intensity:
        record.update(_vector(row.intensity, "i_", labels))
    if baseline:
        record.update(_vector(row.corrected_probs, "c_", labels))
    return record


def frame_from_record(record: dict[str, Any], labels: tuple[str, ...]) -> FrameResult:
    """The inverse of :func:`frame_record` (live results are stored as records; sessions stored before
    the band and smoothed probabilities existed lack them, which reads as empty)."""
    found = bool(record["face_found"])
    box = (record["x"], record["y"], record["w"], record["h"])
    face = Face(box, 1.0, track_id=record["track_id"]) if found else None

    def vector(prefix: str) -> np.ndarray | None:
        values = [record.get(f"{prefix}{n}") for n in labels]
        return None if any(v is None for v in values) else np.array(values, dtype=float)

    return FrameResult(record["frame"], record["time_s"], face, vector("p_") if found else None,
                       record["label"] or "", **{key: record.get(key) for key in VALENCE_COLUMNS},
                       smooth_probs=vector("s_"), intensity=vector("i_") if found else None,
                       corrected_probs=vector("c_") if found else None)


@dataclass
class Timeline:
    info: VideoInfo
    labels: tuple[str, ...]
    model: str
    rows: list[FrameResult] = field(default_factory=list)
    change_points: list[ChangePoint] = field(default_factory=list)
    processing_seconds: float = 0.0
    has_intensity: bool = False
    #: how the timeline was smoothed and its changes found (reported in summary.json)
    settings: dict[str, Any] = field(default_factory=dict)
    #: the person's baseline, when one was given (``rtfer.video.baseline.Baseline``)
    baseline: Any = None
    #: every face seen: (frame, time_s, face with its person id, probabilities), for faces.csv
    faces: list[tuple[int, float, Face, np.ndarray]] = field(default_factory=list)
    scene_cuts: list[float] = field(default_factory=list)
    people: dict[str, Any] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        return timeline_columns(self.labels, self.has_intensity, self.baseline is not None)

    def records(self) -> list[dict[str, Any]]:
        """Rows as dicts in CSV column order; ``None`` where there was no face."""
        return [frame_record(row, self.labels, self.has_intensity, self.baseline is not None) for row in self.rows]

    def to_csv(self, path: str | Path) -> None:
        with Path(path).open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=self.columns, lineterminator="\n")  # not the csv module's CRLF
            writer.writeheader()
            for record in self.records():
                writer.writerow({k: "" if v is None else v for k, v in record.items()})

    def faces_to_csv(self, path: str | Path) -> None:
        """``faces.csv``: one row per face per frame, every person (the subject's are marked)."""
        subject = self.people.get("subject")
        with Path(path).open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["frame", "time_s", "track_id", "subject", "x", "y", "w", "h",
                             *[f"p_{name}" for name in self.labels], "valence"])
            for frame, t, face, probs in self.faces:
                writer.writerow([frame, round(t, 4), face.track_id, int(face.track_id == subject), *face.box,
                                 *(round(float(p), 5) for p in probs), round(float(valence(probs, self.labels)), 5)])

    def tracks(self) -> dict[str, dict[str, Any]]:
        """Per person (track id): frames, first and last time seen, mean valence, share of the top emotion."""
        by_track: dict[int, list[tuple[float, np.ndarray]]] = {}
        for _, t, face, probs in self.faces:
            by_track.setdefault(face.track_id, []).append((t, probs))
        blocks = {}
        for track, seen in sorted(by_track.items()):
            probs = np.array([p for _, p in seen])
            tops = np.bincount(probs.argmax(axis=1), minlength=len(self.labels)) / len(probs)
            blocks[str(track)] = {
                "subject": track == self.people.get("subject"), "frames": len(seen),
                "first_s": round(seen[0][0], 3), "last_s": round(seen[-1][0], 3),
                "mean_valence": round(float(valence(probs, self.labels).mean()), 4),
                "share_of_top_emotion": {n: round(float(v), 4) for n, v in zip(self.labels, tops, strict=True)
                                         if v > 0}}
        return blocks

    def to_pandas(self):
        """The timeline as a ``pandas.DataFrame`` (needs pandas installed)."""
        import pandas as pd

        return pd.DataFrame.from_records(self.records(), columns=self.columns)

    def series(self, key: str) -> np.ndarray:
        """A numeric field of every row (``time_s``, ``valence``, ``valence_smooth``, ...) as a float array,
        NaN where it is empty."""
        return np.array([np.nan if getattr(r, key) is None else getattr(r, key) for r in self.rows], dtype=float)

    def summary(self) -> dict[str, Any]:
        with_face = [r for r in self.rows if r.face is not None]
        shares = {name: 0.0 for name in self.labels}
        for row in with_face:
            shares[row.label] += 1 / len(with_face)
        valence = self.series("valence")
        smooth = self.series("valence_smooth")
        width = self.series("valence_high") - self.series("valence_low")

        def stats(values: np.ndarray) -> dict[str, float | None]:
            values = values[~np.isnan(values)]
            if not len(values):
                return {"mean": None, "min": None, "max": None}
            return {"mean": round(float(values.mean()), 4), "min": round(float(values.min()), 4),
                    "max": round(float(values.max()), 4)}

        intensity = [r.intensity for r in with_face if r.intensity is not None]
        mean_intensity = ({name: round(float(v), 4) for name, v in zip(self.labels, np.mean(intensity, axis=0),
                                                                         strict=True)} if intensity else None)
        return {
            "source": {"path": self.info.source, "kind": self.info.kind, "fps": round(self.info.fps, 3),
                       "frames": self.info.frame_count, "duration_s": round(self.info.duration_s, 3),
                       "width": self.info.width, "height": self.info.height},
            "model": self.model,
            "labels": list(self.labels),
            "frames_processed": len(self.rows),
            "frames_with_face": len(with_face),
            "share_of_time": {k: round(v, 4) for k, v in shares.items()},
            "valence": stats(valence),
            "valence_smooth": stats(smooth),
            "valence_band_width": stats(width),
            "valence_corrected": stats(self.series("valence_corrected")),
            "valence_corrected_smooth": stats(self.series("valence_corrected_smooth")),
            "baseline": None if self.baseline is None else self.baseline.to_dict(),
            "mean_intensity": mean_intensity,
            "change_points": [c.to_dict() for c in self.change_points],
            "subject": self.people or None,
            "tracks": self.tracks(),
            "scene_cuts": [round(t, 3) for t in self.scene_cuts],
            "settings": self.settings,
            "processing_seconds": round(self.processing_seconds, 3),
            "processing_fps": round(len(self.rows) / self.processing_seconds, 2) if self.processing_seconds else None,
        }
