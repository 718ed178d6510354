"""Datasets of face crops re-cropped with 68 landmarks, for models trained on the seed-2 crop.

FER2013 and CK+48 ship as loose 48x48 crops. A model that sees landmark-aligned faces at run time
(``alignment="landmarks68"`` in the registry) must see the same crop in training, so each stored face
is upscaled, dlib's 68 landmarks are fitted inside the box a detector would have given for it (the
inverse of the FER crop rule in ``rtfer.faces.align``), and the face is re-cropped with
:func:`~rtfer.faces.align.align_landmarks`. The result is cached beside the dataset cache, keyed by the
pixels, so the landmark fit (about 2 ms a face) runs once.
"""

from __future__ import annotations

import hashlib
import logging

import cv2
import numpy as np
from tqdm.auto import tqdm

from rtfer.data.readers import FaceDataset, default_cache_dir
from rtfer.faces.align import FER_MARGIN, FER_SHIFT, align_landmarks
from rtfer.faces.detect import predict_landmarks

log = logging.getLogger(__name__)

ALIGN_VERSION = 1
FIT_SIZE = 192  # landmarks are fitted on faces upscaled to this side


def detector_box(side: float) -> tuple[float, float, float, float]:
    """The detector box inside a FER-style crop of ``side`` pixels (inverse of ``rtfer.faces.align.align``)."""
    box = side / (1 + FER_MARGIN)
    x = (side - box) / 2
    return x, x + FER_SHIFT * box, box, box


def landmark_align_face(face: np.ndarray, size: int) -> np.ndarray:
    """One gray uint8 crop re-cropped by the 68-landmark rule to ``size`` x ``size``."""
    up = cv2.resize(face, (FIT_SIZE, FIT_SIZE), interpolation=cv2.INTER_CUBIC)
    landmarks = predict_landmarks(up, detector_box(FIT_SIZE), 68)
    return align_landmarks(up, landmarks, size)


def landmark_aligned(data: FaceDataset, size: int) -> FaceDataset:
    """A copy of ``data`` with every face landmark-aligned to ``size`` x ``size`` (cached)."""
    digest = hashlib.sha1(f"v{ALIGN_VERSION}|{size}|{data.images.shape}".encode())
    digest.update(np.ascontiguousarray(data.images).tobytes())
    cache_file = default_cache_dir() / f"aligned68-{digest.hexdigest()[:20]}.npy"
    if cache_file.is_file():
        images = np.load(cache_file, allow_pickle=False)
        log.info("loaded %d landmark-aligned faces from cache %s", len(images), cache_file)
    else:
        images = np.stack([landmark_align_face(face, size) for face in tqdm(
            data.images, desc="68-landmark alignment", unit="face", leave=False, disable=len(data) < 500)])
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_file.with_suffix(".tmp.npy")
            np.save(tmp, images)
            tmp.replace(cache_file)
        except OSError as exc:  # a read-only home must not stop training
            log.warning("could not write alignment cache %s: %s", cache_file, exc)
    return FaceDataset(images, data.labels, data.scheme, data.groups, data.paths, data.skipped)


def prepare_for_model(data: FaceDataset, alignment: str, size: int) -> FaceDataset:
    """Faces as a model with this registry ``alignment`` expects them."""
    if alignment == "landmarks68":
        return landmark_aligned(data, size)
    return data
