"""Face crops from folders of whole photos (``<root>/<emotion>/*``), for evaluating on real pictures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from tqdm.auto import tqdm

from rtfer.data.readers import FaceDataset, decode_gray, scan_emotion_folders
from rtfer.errors import DataError
from rtfer.faces.align import align
from rtfer.faces.detect import Face, FaceDetector
from rtfer.taxonomy import LabelScheme

Cropper = Callable[[np.ndarray, Face], np.ndarray]


def detect_in_photo(photo: np.ndarray, detector: FaceDetector, pad: float = 0.25) -> list[Face]:
    """Faces in a still photo. Tight head crops leave the detector no context around the face, so when
    nothing is found the photo is tried again with a replicated border of ``pad`` x its size."""
    faces = detector(photo)
    if faces or pad <= 0:
        return faces
    border = round(pad * max(photo.shape[:2]))
    padded = cv2.copyMakeBorder(photo, border, border, border, border, cv2.BORDER_REPLICATE)
    found = detector(padded)
    for face in found:
        x, y, w, h = face.box
        face.box = (x - border, y - border, w, h)
        if face.landmarks is not None:
            face.landmarks = face.landmarks - border
    return found


def read_photo_folder(root: str | Path, scheme: LabelScheme, size: int = 48, detector: FaceDetector | None = None,
                      crop: Cropper | None = None) -> tuple[FaceDataset, list[tuple[str, int]]]:
    """Detect the largest face in every photo and crop it with ``crop`` (default: :func:`align`).

    Returns the crops as a dataset and the photos where no face was found, as (path, label) pairs;
    unreadable files are listed in ``FaceDataset.skipped``. Folders outside ``scheme`` are left out.
    """
    detector = detector or FaceDetector()
    crop = crop or (lambda image, face: align(image, face, size=size))
    entries = [(path, scheme.index(name)) for name, files in scan_emotion_folders(Path(root)).items()
               if name in scheme.labels for path in files]
    images, labels, paths, skipped, missing = [], [], [], [], []
    for path, label in tqdm(entries, desc=f"faces in {Path(root).name}", unit="photo", leave=False):
        photo = decode_gray(path, None)
        if photo is None:
            skipped.append(str(path))
            continue
        faces = detect_in_photo(photo, detector)
        if not faces:
            missing.append((str(path), label))
            continue
        images.append(crop(photo, faces[0]))
        labels.append(label)
        paths.append(str(path))
    if not images:
        raise DataError(f"{root}: no face found in any of {len(entries)} photos")
    dataset = FaceDataset(np.stack(images), np.asarray(labels, dtype=np.int64), scheme, paths=paths,
                          skipped=skipped)
    return dataset, missing
