"""The result of analysing a video: one row per processed frame, change points and a summary."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rtfer.faces import Face
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
    smooth_probs: np.ndarray | None = None
    intensity: np.ndarray | None = None


def timeline_columns(labels: tuple[str, ...], intensity: bool = False) -> list[str]:
    """``timeline.csv`` columns; models with an intensity head add ``i_<emotion>`` after ``valence_smooth``."""
    return ["frame", "time_s", "face_found", "track_id", "x", "y", "w", "h", *[f"p_{name}" for name in labels],
            "label", "valence", "valence_smooth", *([f"i_{name}" for name in labels] if intensity else [])]


def frame_record(row: FrameResult, labels: tuple[str, ...], intensity: bool = False) -> dict[str, Any]:
    """One processed frame as a ``timeline.csv`` row (a dict in column order, ``None`` for empty cells)."""
    face = row.face
    record: dict[str, Any] = {"frame": row.frame, "time_s": round(row.time_s, 4), "face_found": int(face is not None),
                              "track_id": face.track_id if face else None}
    record.update(zip("xywh", face.box if face else (None,) * 4, strict=True))
    for i, name in enumerate(labels):
        record[f"p_{name}"] = round(float(row.probs[i]), 5) if row.probs is not None else None
    record["label"] = row.label or None
    record["valence"] = None if row.valence is None else round(row.valence, 5)
    record["valence_smooth"] = None if row.valence_smooth is None else round(row.valence_smooth, 5)
    if intensity:
        for i, name in enumerate(labels):
            record[f"i_{name}"] = round(float(row.intensity[i]), 5) if row.intensity is not None else None
    return record


def frame_from_record(record: dict[str, Any], labels: tuple[str, ...]) -> FrameResult:
    """The inverse of :func:`frame_record` (live results are stored as records)."""
    found = bool(record["face_found"])
    box = (record["x"], record["y"], record["w"], record["h"])
    face = Face(box, 1.0, track_id=record["track_id"]) if found else None
    probs = np.array([record[f"p_{n}"] for n in labels]) if found else None
    intensity = (np.array([record[f"i_{n}"] for n in labels])
                 if found and record.get(f"i_{labels[0]}") is not None else None)
    return FrameResult(record["frame"], record["time_s"], face, probs, record["label"] or "", record["valence"],
                       record["valence_smooth"], intensity=intensity)


@dataclass
class Timeline:
    info: VideoInfo
    labels: tuple[str, ...]
    model: str
    rows: list[FrameResult] = field(default_factory=list)
    change_points: list[ChangePoint] = field(default_factory=list)
    processing_seconds: float = 0.0
    has_intensity: bool = False

    @property
    def columns(self) -> list[str]:
        return timeline_columns(self.labels, self.has_intensity)

    def records(self) -> list[dict[str, Any]]:
        """Rows as dicts in CSV column order; ``None`` where there was no face."""
        return [frame_record(row, self.labels, self.has_intensity) for row in self.rows]

    def to_csv(self, path: str | Path) -> None:
        with Path(path).open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=self.columns)
            writer.writeheader()
            for record in self.records():
                writer.writerow({k: "" if v is None else v for k, v in record.items()})

    def to_pandas(self):
        """The timeline as a ``pandas.DataFrame`` (needs pandas installed)."""
        import pandas as pd

        return pd.DataFrame.from_records(self.records(), columns=self.columns)

    def series(self, key: str) -> np.ndarray:
        """``time_s``, ``valence`` or ``valence_smooth`` as a float array (NaN where no face)."""
        return np.array([np.nan if getattr(r, key) is None else getattr(r, key) for r in self.rows], dtype=float)

    def summary(self) -> dict[str, Any]:
        with_face = [r for r in self.rows if r.face is not None]
        shares = {name: 0.0 for name in self.labels}
        for row in with_face:
            shares[row.label] += 1 / len(with_face)
        valence = self.series("valence")
        smooth = self.series("valence_smooth")

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
            "mean_intensity": mean_intensity,
            "change_points": [c.to_dict() for c in self.change_points],
            "processing_seconds": round(self.processing_seconds, 3),
            "processing_fps": round(len(self.rows) / self.processing_seconds, 2) if self.processing_seconds else None,
        }
