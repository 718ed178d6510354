"""Exact and mirrored copies between face sets, and the faces no training set should hold.

FER2013's PublicTest shares several hundred faces, pixel for pixel or mirrored, with its training set;
a model scores far higher on those, so an honest validation figure leaves them out. Its training set
also holds blank images and copies of one face under different labels, which teach nothing but noise.

A face's *key* is a hash of its pixels, taken as the smaller of the hashes of the face and of its
mirror image, so a face and its mirrored copy share one key. Everything here is numpy and hashlib.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rtfer.data.readers import FaceDataset, default_cache_dir, read_image_folder

log = logging.getLogger(__name__)

#: Size at which faces are compared: FER2013's own, so nothing is resampled before hashing.
HASH_SIZE = 48
#: A face whose brightest and darkest pixels differ by at most this is blank.
BLANK_RANGE = 2


def face_keys(images: np.ndarray) -> np.ndarray:
    """One 16-hex-digit key per face (N, H, W) uint8, equal for a face and its mirror image."""
    def digest(image: np.ndarray) -> str:
        return hashlib.blake2b(np.ascontiguousarray(image).tobytes(), digest_size=8).hexdigest()

    return np.array([min(digest(image), digest(image[:, ::-1])) for image in images], dtype="U16")


def blank_faces(images: np.ndarray) -> np.ndarray:
    """Mask of faces with (almost) no contrast: all-black or all-grey images."""
    flat = images.reshape(len(images), -1)
    return (flat.max(axis=1).astype(np.int16) - flat.min(axis=1)) <= BLANK_RANGE


def training_keys(train_dir: str | Path, cache_dir: Path | None = None) -> np.ndarray:
    """The sorted unique keys of a training folder, cached beside the dataset cache."""
    train = read_image_folder(train_dir, size=HASH_SIZE, skip_unknown=True, cache_dir=cache_dir)
    fingerprint = hashlib.blake2b(train.images.tobytes(), digest_size=10).hexdigest()
    cache_file = (cache_dir or default_cache_dir()) / f"keys-{fingerprint}.npy"
    if cache_file.is_file():
        try:
            return np.load(cache_file, allow_pickle=False)
        except (OSError, ValueError) as exc:  # a damaged cache is rebuilt, never an error
            log.warning("ignoring damaged cache %s: %s", cache_file, exc)
    keys = np.unique(face_keys(train.images))
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(".tmp.npy")
        np.save(tmp, keys)
        tmp.replace(cache_file)
    except OSError as exc:
        log.warning("could not cache face keys in %s: %s", cache_file, exc)
    return keys


def copies_of(images: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Mask of the faces that are exact or mirrored copies of a face with one of the sorted ``keys``."""
    return np.isin(face_keys(images), keys, assume_unique=False)


@dataclass
class Cleaning:
    """What :func:`clean_training_set` removed, for the run's metadata and the docs."""

    blank: int
    conflicting_groups: int
    conflicting_faces: int
    duplicate_faces_kept: int

    def as_dict(self) -> dict[str, int]:
        return {"blank": self.blank, "conflicting_groups": self.conflicting_groups,
                "conflicting_faces": self.conflicting_faces, "duplicate_faces_kept": self.duplicate_faces_kept}


def clean_training_set(data: FaceDataset, images48: np.ndarray | None = None) -> tuple[FaceDataset, Cleaning]:
    """Drop blank faces and every face of a copy group whose members carry different labels.

    Copies that agree on their label are kept (and counted): they only weigh a face twice.
    ``images48`` are the same faces at :data:`HASH_SIZE` when ``data`` holds them resized (VGG-S).
    """
    pixels = data.images if images48 is None else images48
    blank = blank_faces(pixels)
    keys = face_keys(pixels)
    keys[blank] = ""
    order = np.argsort(keys, kind="stable")
    sorted_keys, sorted_labels = keys[order], data.labels[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    group = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(keys)]))
    lowest = np.minimum.reduceat(sorted_labels, starts)
    highest = np.maximum.reduceat(sorted_labels, starts)
    size = np.diff(np.r_[starts, len(keys)])
    conflicting_group = (lowest != highest) & (sorted_keys[starts] != "")
    conflicting = np.zeros(len(keys), dtype=bool)
    conflicting[order] = conflicting_group[group]
    duplicates = int(((size - 1) * (~conflicting_group & (sorted_keys[starts] != ""))).sum())
    keep = ~(blank | conflicting)
    report = Cleaning(int(blank.sum()), int(conflicting_group.sum()), int(conflicting.sum()), duplicates)
    log.info("cleaning: dropped %d blank faces and %d faces in %d copy groups with conflicting labels; "
             "%d agreeing copies kept", report.blank, report.conflicting_faces, report.conflicting_groups,
             report.duplicate_faces_kept)
    return data.subset(np.flatnonzero(keep)), report
