"""Face crops for the classifiers: eyes levelled, then cropped and resized.

Two crop rules:

* :func:`align` (the FER2013 crop, what the MSFERNet models are trained on): a loose square around
  the detector box, rotated so the eyes are level, 48x48 gray. ``FER_MARGIN`` and ``FER_SHIFT`` set how
  loose and how high it sits; they were chosen by accuracy on whole photos (``docs/faces.md``).
* :func:`align_landmarks` (arXiv 2504.03010): rotate so the eyes are level; left, right and bottom
  boundaries from jaw points 1, 17 and 9 (1-based, as in the paper); top boundary one third of the face
  height above the eye centre, where face height runs from the eye centre to the chin; 128x128.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from rtfer.faces.detect import Face, as_gray

FER_MARGIN = 0.3   # the square's side is (1 + margin) x the larger side of the detector box
FER_SHIFT = 0.05   # its centre moves up by this fraction of the box height (FER2013 crops show the forehead)


def eye_centers(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres of the two eyes, image-left first, from 68- or 5-point dlib landmarks."""
    points = np.asarray(landmarks, dtype=np.float64)
    if len(points) == 68:
        a, b = points[36:42].mean(axis=0), points[42:48].mean(axis=0)
    elif len(points) == 5:
        a, b = points[0:2].mean(axis=0), points[2:4].mean(axis=0)
    else:
        raise ValueError(f"expected 68 or 5 landmarks, got {len(points)}")
    return (a, b) if a[0] <= b[0] else (b, a)


def eye_angle(landmarks: np.ndarray) -> float:
    """Angle in degrees of the line through the eye centres (0 when level, positive when it falls to the right
    of the image, i.e. the image must be rotated by this angle to level the eyes)."""
    left, right = eye_centers(landmarks)
    return math.degrees(math.atan2(right[1] - left[1], right[0] - left[0]))


def warp_crop(image: np.ndarray, rotation: np.ndarray, rect: tuple[float, float, float, float],
              size: tuple[int, int]) -> np.ndarray:
    """Crop ``rect`` (x, y, w, h, in rotated coordinates) of ``image`` rotated by ``rotation`` (2x3), to ``size``.

    One affine warp does rotation, crop and scaling; borders are replicated where the crop leaves the frame.
    Large downscales go through an intermediate image and INTER_AREA to avoid aliasing.
    """
    x, y, w, h = rect
    out_w, out_h = size
    factor = max(1, min(4, math.floor(min(w / out_w, h / out_h))))
    inter_w, inter_h = out_w * factor, out_h * factor
    crop = np.array([[inter_w / w, 0, -x * inter_w / w], [0, inter_h / h, -y * inter_h / h], [0, 0, 1]])
    matrix = (crop @ np.vstack([rotation, [0, 0, 1]]))[:2]
    warped = cv2.warpAffine(image, matrix, (inter_w, inter_h), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)
    if factor > 1:
        warped = cv2.resize(warped, (out_w, out_h), interpolation=cv2.INTER_AREA)
    return warped


def _prepare(frame: np.ndarray, gray: bool) -> np.ndarray:
    if gray:
        image = as_gray(frame)
        if image is None:
            raise ValueError("not an image frame")
        return image
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    return frame[:, :, :3]


def align(frame: np.ndarray, face: Face, size: int = 48, gray: bool = True, rotate: bool = True,
          margin: float = FER_MARGIN, shift: float = FER_SHIFT) -> np.ndarray:
    """The FER2013-style crop of ``face``: a loose square, eyes levelled when landmarks are known."""
    image = _prepare(frame, gray)
    x, y, w, h = face.box
    center = (x + w / 2, y + h / 2 - shift * h)
    side = max(w, h) * (1 + margin)
    angle = eye_angle(face.landmarks) if rotate and face.landmarks is not None else 0.0
    rotation = cv2.getRotationMatrix2D(center, angle, 1.0)
    return warp_crop(image, rotation, (center[0] - side / 2, center[1] - side / 2, side, side), (size, size))


def landmark_crop(landmarks: np.ndarray) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """The seed-2 rule as geometry: the rotation (2x3) that levels the eyes and the crop rectangle
    (x, y, w, h) in rotated coordinates."""
    points = np.asarray(landmarks, dtype=np.float64)
    if len(points) != 68:
        raise ValueError("the landmark crop needs 68-point landmarks")
    left_eye, right_eye = eye_centers(points)
    eye_center = (left_eye + right_eye) / 2
    rotation = cv2.getRotationMatrix2D((float(eye_center[0]), float(eye_center[1])), eye_angle(points), 1.0)
    rotated = np.hstack([points, np.ones((68, 1))]) @ rotation.T
    left, right, bottom = rotated[0, 0], rotated[16, 0], rotated[8, 1]
    face_height = max(bottom - eye_center[1], 1.0)
    top = eye_center[1] - face_height / 3
    return rotation, (left, top, max(right - left, 1.0), bottom - top)


def align_landmarks(frame: np.ndarray, landmarks: np.ndarray, size: int = 128, gray: bool = True) -> np.ndarray:
    """The seed-2 crop from 68 landmarks: eyes level; jaw points 1, 17, 9 and the eye centre bound it."""
    rotation, rect = landmark_crop(landmarks)
    return warp_crop(_prepare(frame, gray), rotation, rect, (size, size))


ALIGNMENTS = ("fer", "landmarks68")


def crop_face(frame: np.ndarray, face: Face, size: int, alignment: str = "fer") -> np.ndarray:
    """The crop a model expects: ``fer`` (:func:`align`) or ``landmarks68`` (:func:`align_landmarks`, falling
    back to :func:`align` when the face has no 68-point landmarks)."""
    if alignment not in ALIGNMENTS:
        raise ValueError(f"unknown alignment {alignment!r}; choose from {', '.join(ALIGNMENTS)}")
    if alignment == "landmarks68" and face.landmarks is not None and len(face.landmarks) == 68:
        return align_landmarks(frame, face.landmarks, size)
    return align(frame, face, size=size)
