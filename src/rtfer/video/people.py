"""Several people in one video: scene cuts end tracks, a face descriptor keeps one id per person, and the
subject is chosen once.

* Scene cuts: the gray-level histogram of a 64x64 thumbnail of each frame against the previous frame's;
  a total-variation distance above ``cut_threshold`` (0.25) is a cut, and every track ends there (a tracker
  would otherwise carry a box from one shot into a different person in the next). Within the shared clips
  (head motion, talking, a moving camera) the distance between consecutive frames stays under 0.08; between
  two of the clips it is 0.32-0.55.
* Identities: each new track's face is described by dlib's ResNet face descriptor (128 numbers, shipped
  in ``face-recognition-models``), computed once per track. A track whose descriptor lies within
  ``match_distance`` of a known person not in view at the same time takes that person's id, so a person
  who leaves and returns, or reappears after a cut, keeps one id, and two faces in one frame never share
  one. dlib's usual threshold is 0.6; on the shared clips two different men are 0.49-0.54 apart and the
  same person 0.13-0.41, so 0.45 is used.
* Subject: ``largest`` (the largest face the first time one is seen, then that person only), ``track:N``
  (person id N) or ``face:IMAGE`` (the person whose descriptor matches the largest face in IMAGE). While the
  subject is not in view the subject's timeline has a gap: never another person's data.
"""

from __future__ import annotations

import dataclasses
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from rtfer.errors import DataError, RtferError
from rtfer.faces import Face, FaceDetector
from rtfer.faces.detect import _models_dir

MATCH_DISTANCE = 0.45
CUT_THRESHOLD = 0.25


class SceneCuts:
    """``is_cut(gray)``: whether this frame starts a new shot."""

    def __init__(self, threshold: float = CUT_THRESHOLD):
        self.threshold = threshold
        self._previous: np.ndarray | None = None

    def is_cut(self, gray: np.ndarray) -> bool:
        thumb = cv2.resize(gray, (64, 64), interpolation=cv2.INTER_AREA)
        histogram = np.bincount(thumb.ravel() // 8, minlength=32) / thumb.size
        previous, self._previous = self._previous, histogram
        return previous is not None and 0.5 * float(np.abs(histogram - previous).sum()) > self.threshold


@cache
def _descriptor_model():
    import dlib

    path = _models_dir() / "dlib_face_recognition_resnet_model_v1.dat"
    if not path.is_file():
        raise RtferError(f"face descriptor model not found: {path}")
    return dlib.face_recognition_model_v1(str(path))


def face_descriptor(frame: np.ndarray, face: Face) -> np.ndarray:
    """dlib's 128-number descriptor of ``face`` in a BGR (or gray) frame; needs its 5 or 68 landmarks."""
    import dlib

    if face.landmarks is None:
        raise RtferError("a face descriptor needs the face's landmarks")
    x, y, w, h = face.box
    shape = dlib.full_object_detection(dlib.rectangle(x, y, x + w, y + h),
                                       [dlib.point(int(px), int(py)) for px, py in face.landmarks])
    rgb = cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB if frame.ndim == 2 else cv2.COLOR_BGR2RGB)
    return np.array(_descriptor_model().compute_face_descriptor(rgb, shape))


def parse_subject(spec: str | None, detector: FaceDetector) -> tuple[str, int | np.ndarray | None]:
    """``largest`` | ``track:N`` | ``face:IMAGE`` -> (kind, value); an unusable spec is an ``RtferError``."""
    spec = (spec or "largest").strip()
    if spec == "largest":
        return "largest", None
    kind, _, value = spec.partition(":")
    if kind == "track" and value.isdigit():
        return "track", int(value)
    if kind == "face" and value:
        path = Path(value)
        if not path.is_file():
            raise DataError(f"--subject face: image not found: {path}")
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise DataError(f"--subject face: {path} is not a readable image")
        faces = detector(image)
        if not faces:
            raise DataError(f"--subject face: no face found in {path}")
        return "face", face_descriptor(image, faces[0])
    raise RtferError(f"--subject must be largest, track:N or face:IMAGE, not {spec!r}")


class People:
    """Re-identifies tracks as people and follows one subject; ``update(frame, faces)`` per frame."""

    def __init__(self, subject: str | None = None, detector: FaceDetector | None = None,
                 match_distance: float = MATCH_DISTANCE):
        self.kind, self.wanted = parse_subject(subject, detector or FaceDetector(landmarks=5))
        self.match_distance = match_distance
        self._person_of_track: dict[int, int] = {}
        self._descriptors: dict[int, np.ndarray] = {}
        self.subject_id: int | None = self.wanted if self.kind == "track" else None

    def update(self, frame: np.ndarray, faces: list[Face]) -> tuple[list[Face], Face | None]:
        """The faces with person ids (copies; largest first) and the subject's face, ``None`` when absent."""
        in_view = {self._person_of_track[f.track_id] for f in faces if f.track_id in self._person_of_track}
        people = []
        for face in faces:
            if face.track_id not in self._person_of_track:
                person = self._identify(frame, face, in_view)
                self._person_of_track[face.track_id] = person
                in_view.add(person)
            people.append(dataclasses.replace(face, track_id=self._person_of_track[face.track_id]))
        if self.subject_id is None and self.kind == "largest" and people:
            self.subject_id = people[0].track_id
        subject = next((f for f in people if f.track_id == self.subject_id), None)
        return people, subject

    def _identify(self, frame: np.ndarray, face: Face, in_view: set[int]) -> int:
        descriptor = face_descriptor(frame, face) if face.landmarks is not None else None
        person = None
        if descriptor is not None:
            known = [(float(np.linalg.norm(descriptor - d)), p) for p, d in self._descriptors.items()
                     if p not in in_view]
            distance, match = min(known, default=(np.inf, None))
            person = match if distance <= self.match_distance else None
        if person is None:
            person = max([*self._descriptors, *self._person_of_track.values(), 0]) + 1
            if descriptor is not None:
                self._descriptors[person] = descriptor
        if (self.kind == "face" and self.subject_id is None and descriptor is not None
                and float(np.linalg.norm(descriptor - self.wanted)) <= self.match_distance):
            self.subject_id = person
        return person

    def to_dict(self) -> dict:
        return {"subject": self.subject_id, "rule": self.kind, "people": len(set(self._person_of_track.values()))}
