"""Dataset readers: emotion-folder trees, the original ``fer2013.csv``, and CK+48.

Each reader decodes every image once into one uint8 array (N, H, W) of gray faces; training
never touches the files again. Folder trees are cached as ``.npz`` keyed by the file list,
sizes and modification times, so a second run starts in a second.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from rtfer.errors import DataError
from rtfer.taxonomy import CKPLUS7, FER7, LabelScheme, canonical, get_scheme

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm"}
SUBJECT_PATTERN = re.compile(r"^(S\d{3})_")
CACHE_VERSION = 1


@dataclass
class FaceDataset:
    """Faces in memory: ``images`` (N, H, W) uint8, ``labels`` (N,) int64 indices into ``scheme``.

    ``groups`` holds a subject id per image where the source names one (CK+), else ``None``.
    """

    images: np.ndarray
    labels: np.ndarray
    scheme: LabelScheme
    groups: np.ndarray | None = None
    paths: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray) -> FaceDataset:
        return FaceDataset(
            self.images[index], self.labels[index], self.scheme,
            None if self.groups is None else self.groups[index],
            [self.paths[i] for i in index] if self.paths else [],
        )

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=len(self.scheme))
        return {name: int(c) for name, c in zip(self.scheme.labels, counts, strict=True)}


def default_cache_dir() -> Path:
    return Path(os.environ.get("RTFER_CACHE", Path.home() / ".cache" / "rtfer"))


def decode_gray(path: Path, size: int | None) -> np.ndarray | None:
    """Decode one image to gray uint8 (resized to ``size`` if given); ``None`` if unreadable."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError:
        return None
    image = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if data.size else None
    if image is None or image.size == 0:
        return None
    if size is not None and image.shape != (size, size):
        interp = cv2.INTER_AREA if min(image.shape) > size else cv2.INTER_LINEAR
        image = cv2.resize(image, (size, size), interpolation=interp)
    return image


def scan_emotion_folders(root: Path) -> dict[str, list[Path]]:
    """Map each emotion sub-folder (canonical name) to its image files, sorted.

    Raises :class:`DataError` for a missing root, an unknown folder name, or no images at all.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"dataset folder not found: {root}")
    folders: dict[str, list[Path]] = {}
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            name = canonical(sub.name)
        except ValueError as exc:
            raise DataError(f"{root}: folder {sub.name!r} is not an emotion. {exc}") from None
        files = sorted(p for p in sub.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        folders.setdefault(name, []).extend(files)
    if not any(folders.values()):
        raise DataError(f"no images found under {root} (expected <root>/<emotion>/*.png|jpg)")
    return folders


def infer_scheme(emotions: set[str]) -> LabelScheme:
    """The label scheme of a folder tree: CK+ when it has contempt and no neutral, else FER2013."""
    if "contempt" in emotions and "neutral" not in emotions:
        return CKPLUS7
    if emotions <= set(FER7.labels):
        return FER7
    raise DataError(
        f"emotion folders {sorted(emotions)} fit neither fer7 ({', '.join(FER7.labels)}) "
        f"nor ckplus7 ({', '.join(CKPLUS7.labels)}); pass a label scheme explicitly"
    )


def _cache_key(root: Path, files: list[Path], size: int | None, scheme: LabelScheme) -> str:
    digest = hashlib.sha1(f"v{CACHE_VERSION}|{root.resolve()}|{size}|{scheme.name}".encode())
    for path in files:
        stat = path.stat()
        digest.update(f"{path.relative_to(root)}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:20]


def read_image_folder(root: str | Path, scheme: LabelScheme | str | None = None, size: int | None = 48,
                      cache_dir: Path | None = None, use_cache: bool = True,
                      skip_unknown: bool = False) -> FaceDataset:
    """Read ``<root>/<emotion>/*`` into memory as gray ``size`` x ``size`` faces.

    Folder names may be any known spelling (anger, angry, ...). With ``skip_unknown`` folders for
    emotions outside ``scheme`` are left out (logged) instead of raising. Corrupt images are skipped
    with a warning and listed in ``FaceDataset.skipped``. The subject id is taken from CK+'s
    ``S###_`` file-name prefix when every file has one.
    """
    root = Path(root)
    folders = scan_emotion_folders(root)
    if isinstance(scheme, str):
        scheme = get_scheme(scheme)
    scheme = scheme or infer_scheme(set(folders))
    outside = sorted(name for name in folders if name not in scheme.labels)
    if outside and not skip_unknown:
        raise DataError(f"{root}: folders {outside} are not classes of label scheme {scheme.name} "
                        f"({', '.join(scheme.labels)})")
    if outside:
        log.info("leaving out folders outside %s: %s", scheme.name, ", ".join(outside))
    entries = [(path, scheme.index(name)) for name, files in folders.items()
               if name in scheme.labels for path in files]
    if not entries:
        raise DataError(f"{root}: no images of the classes {', '.join(scheme.labels)}")

    files = [path for path, _ in entries]
    cache_file = (cache_dir or default_cache_dir()) / f"folder-{_cache_key(root, files, size, scheme)}.npz"
    if use_cache and cache_file.is_file():
        with np.load(cache_file, allow_pickle=False) as cached:
            dataset = FaceDataset(cached["images"], cached["labels"], scheme,
                                  cached.get("groups", None),
                                  list(cached["paths"]), list(cached["skipped"]))
        log.info("loaded %d faces from cache %s", len(dataset), cache_file)
        return dataset

    images, labels, paths, skipped = [], [], [], []
    for path, label in _progress(entries, f"reading {root.name}"):
        image = decode_gray(path, size)
        if image is None:
            skipped.append(str(path))
            continue
        images.append(image)
        labels.append(label)
        paths.append(str(path))
    if skipped:
        log.warning("skipped %d unreadable image(s), e.g. %s", len(skipped), skipped[0])
    if not images:
        raise DataError(f"{root}: none of the {len(entries)} images could be decoded")
    if size is None and len({im.shape for im in images}) > 1:
        raise DataError(f"{root}: images differ in size; pass a size to resize them")

    subjects = [SUBJECT_PATTERN.match(Path(p).name) for p in paths]
    groups = np.array([m.group(1) for m in subjects]) if all(subjects) else None
    dataset = FaceDataset(np.stack(images), np.asarray(labels, dtype=np.int64), scheme, groups,
                          paths, skipped)
    if use_cache:
        _write_cache(cache_file, dataset)
    return dataset


def _write_cache(cache_file: Path, dataset: FaceDataset) -> None:
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        arrays = dict(images=dataset.images, labels=dataset.labels,
                      paths=np.array(dataset.paths), skipped=np.array(dataset.skipped, dtype=str))
        if dataset.groups is not None:
            arrays["groups"] = dataset.groups
        tmp = cache_file.with_suffix(".tmp.npz")
        np.savez(tmp, **arrays)
        tmp.replace(cache_file)
    except OSError as exc:  # a read-only home must not stop training
        log.warning("could not write dataset cache %s: %s", cache_file, exc)


def read_ckplus48(root: str | Path, **kwargs) -> FaceDataset:
    """CK+48 (``<root>/<emotion>/S###_###_########.png``) with subject ids; requires them."""
    dataset = read_image_folder(root, scheme=kwargs.pop("scheme", CKPLUS7), **kwargs)
    if dataset.groups is None:
        raise DataError(f"{root}: CK+ file names must start with the subject id (S###_)")
    return dataset


FER2013_USAGES = ("Training", "PublicTest", "PrivateTest")


def read_fer2013_csv(path: str | Path, usage: str | tuple[str, ...] = "Training") -> FaceDataset:
    """The original ``fer2013.csv`` (columns emotion, pixels, Usage) for one or more usages."""
    path = Path(path)
    usages = (usage,) if isinstance(usage, str) else tuple(usage)
    unknown = [u for u in usages if u not in FER2013_USAGES]
    if unknown:
        raise DataError(f"unknown FER2013 usage {unknown}; choose from {', '.join(FER2013_USAGES)}")
    if not path.is_file():
        raise DataError(f"file not found: {path}")
    images, labels, skipped = [], [], []
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"emotion", "pixels"} - set(reader.fieldnames or [])
        if missing:
            raise DataError(f"{path}: not a fer2013.csv, missing column(s) {sorted(missing)}")
        for row_number, row in enumerate(reader, start=2):
            if "Usage" in row and row["Usage"] not in usages:
                continue
            try:
                pixels = np.array(row["pixels"].split(), dtype=np.uint8)
                label = int(row["emotion"])
                if pixels.size != 48 * 48 or not 0 <= label < len(FER7):
                    raise ValueError
            except (ValueError, AttributeError):
                skipped.append(f"{path}:{row_number}")
                continue
            images.append(pixels.reshape(48, 48))
            labels.append(label)
    if skipped:
        log.warning("skipped %d malformed row(s) in %s, e.g. %s", len(skipped), path, skipped[0])
    if not images:
        raise DataError(f"{path}: no usable rows for usage {', '.join(usages)}")
    return FaceDataset(np.stack(images), np.asarray(labels, dtype=np.int64), FER7, skipped=skipped)


def read_dataset(source: str | Path, scheme: LabelScheme | str | None = None, size: int = 48,
                 **kwargs) -> FaceDataset:
    """Read a folder tree or ``fer2013.csv[:Usage]`` (default usage Training)."""
    text = str(source)
    match = re.match(r"^(.*\.csv)(?::(\w+))?$", text)
    if match:
        return read_fer2013_csv(match.group(1), match.group(2) or "Training")
    return read_image_folder(source, scheme=scheme, size=size, **kwargs)


def _progress(items: list, description: str):
    from tqdm.auto import tqdm

    return tqdm(items, desc=description, unit="img", leave=False, disable=len(items) < 2000)
