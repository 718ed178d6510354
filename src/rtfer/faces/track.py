"""Follow faces across video frames so that each person keeps an id.

The detector runs every ``detect_every`` frames: over the whole frame every ``full_every`` frames (and
on every frame while no face is followed), otherwise only in a window around each tracked face, scanned at the scale
that makes the face just large enough (a few percent of a full scan). New faces therefore appear within
``full_every`` frames. In between, each track is followed by re-fitting its landmarks inside its last box
and moving the box with them (dlib's shape predictor, about half a millisecond per face), unless a 16x16
thumbnail of the box differs from the one taken at the last fit by less than ``still_threshold`` gray
levels on average: a still face keeps its landmarks (the crop still comes from the new frame). Detections
are matched to tracks by IoU, then by centre distance; a track missing from ``max_missed`` detection
rounds in a row is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from rtfer.faces.detect import Face, FaceDetector, as_gray, predict_landmarks


def iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = w * h
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


THUMB = 16  # side of the thumbnail that tells whether a face moved since its landmarks were fitted


@dataclass
class _Track:
    track_id: int
    face: Face
    missed: int = 0
    thumb: np.ndarray | None = None  # the face region when its landmarks were last fitted


def _thumbnail(gray: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray | None:
    x, y, w, h = box
    region = gray[max(y, 0):y + h, max(x, 0):x + w]
    if region.size == 0:
        return None
    return cv2.resize(region, (THUMB, THUMB), interpolation=cv2.INTER_AREA).astype(np.int16)


class FaceTracker:
    """Detect-every-k-frames face tracker; ``update(frame)`` returns the faces with ``track_id`` set."""

    def __init__(self, detector: FaceDetector | None = None, detect_every: int = 5, max_missed: int = 2,
                 min_iou: float = 0.3, full_every: int = 30, still_threshold: float = 3.0):
        self.detector = detector or FaceDetector()
        self.detect_every = max(1, detect_every)
        self.full_every = max(self.detect_every, full_every)
        self.still_threshold = still_threshold
        self.max_missed = max_missed
        self.min_iou = min_iou
        self._tracks: list[_Track] = []
        self._next_id = 1
        self._frame_index = 0
        self._shape: tuple[int, ...] | None = None

    def reset(self) -> None:
        self._tracks.clear()
        self._frame_index = 0

    def update(self, frame: np.ndarray | None) -> list[Face]:
        gray = as_gray(frame)
        if gray is None:
            self._frame_index += 1
            return []
        if gray.shape != self._shape:  # a frame of another size (frame folders, the page): old boxes mean nothing
            self.reset()
            self._shape = gray.shape
        if self._frame_index % self.full_every == 0 or all(t.missed for t in self._tracks):
            faces = self._match(self.detector(gray))  # also every frame while nothing is followed
        elif self._frame_index % self.detect_every == 0:
            faces = self._match(self._detect_near_tracks(gray))
        else:
            faces = self._follow(gray)
        self._frame_index += 1
        return faces

    def _detect_near_tracks(self, gray: np.ndarray) -> list[Face]:
        """The best detection in the window of each active track (duplicates of one face are merged);
        a full-frame detection when a track's window has no face (it moved fast, or left)."""
        found: list[Face] = []
        for track in self._tracks:
            if track.missed:
                continue
            near = self.detector.detect_near(gray, track.face)
            best = max(near, key=lambda face: iou(face.box, track.face.box), default=None)
            if best is None:
                return self.detector(gray)
            if all(iou(best.box, other.box) < 0.5 for other in found):
                found.append(best)
        return found

    def _match(self, detections: list[Face]) -> list[Face]:
        unmatched = list(range(len(detections)))
        pairs = sorted(((iou(t.face.box, d.box), ti, di) for ti, t in enumerate(self._tracks)
                        for di, d in enumerate(detections)), reverse=True)
        used_tracks: set[int] = set()
        for overlap, ti, di in pairs:
            if overlap < self.min_iou or ti in used_tracks or di not in unmatched:
                continue
            self._assign(self._tracks[ti], detections[di])
            used_tracks.add(ti)
            unmatched.remove(di)
        for di in list(unmatched):  # fast motion: fall back to the nearest centre within one face width
            detection = detections[di]
            best = min((ti for ti in range(len(self._tracks)) if ti not in used_tracks),
                       key=lambda ti: _distance(self._tracks[ti].face, detection), default=None)
            if best is not None and _distance(self._tracks[best].face, detection) < detection.box[2]:
                self._assign(self._tracks[best], detection)
                used_tracks.add(best)
                unmatched.remove(di)
        for ti, track in enumerate(self._tracks):
            if ti not in used_tracks:
                track.missed += 1
        self._tracks = [t for t in self._tracks if t.missed <= self.max_missed]
        for di in unmatched:
            detection = detections[di]
            detection.track_id = self._next_id
            self._tracks.append(_Track(self._next_id, detection))
            self._next_id += 1
        return sorted((t.face for t in self._tracks if t.missed == 0), key=lambda f: f.area, reverse=True)

    @staticmethod
    def _assign(track: _Track, detection: Face) -> None:
        detection.track_id = track.track_id
        track.face = detection
        track.missed = 0
        track.thumb = None

    def _follow(self, gray: np.ndarray) -> list[Face]:
        followed = []
        height, width = gray.shape
        for track in self._tracks:
            if track.missed:
                continue
            old = track.face
            if old.landmarks is None or not self.detector.landmarks:
                followed.append(old)
                continue
            thumb = _thumbnail(gray, old.box)
            if (thumb is not None and track.thumb is not None
                    and np.abs(thumb - track.thumb).mean() < self.still_threshold):
                followed.append(old)  # the face has not moved: its landmarks still hold
                continue
            marks = predict_landmarks(gray, old.box, len(old.landmarks))
            dx, dy = (marks.mean(axis=0) - old.landmarks.mean(axis=0)).tolist()
            x, y, w, h = old.box
            x = int(np.clip(round(x + dx), 0, max(width - w, 0)))
            y = int(np.clip(round(y + dy), 0, max(height - h, 0)))
            track.face = Face((x, y, w, h), old.score, marks, track.track_id)
            track.thumb = _thumbnail(gray, track.face.box)
            followed.append(track.face)
        return sorted(followed, key=lambda f: f.area, reverse=True)


def _distance(a: Face, b: Face) -> float:
    (ax, ay), (bx, by) = a.center, b.center
    return float(np.hypot(ax - bx, ay - by))


def pick_subject(faces: list[Face], track_id: int | None = None) -> Face | None:
    """The session subject: the face with ``track_id`` if given and present, else the largest face."""
    if track_id is not None:
        return next((f for f in faces if f.track_id == track_id), None)
    return max(faces, key=lambda f: f.area, default=None)
