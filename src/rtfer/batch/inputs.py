"""What a batch analyses: video files, folders searched recursively, and CSV manifests with a ``path`` column.

Each video gets an id that is also its output folder under ``DIR``: its path relative to the folder or
manifest it came from, without the extension, each part reduced to safe characters. Ids that collide
(``a.mp4`` and ``a.avi``, names equal but for case or odd characters, a name reserved for the study files,
or one id being the folder of another) get ``-2``, ``-3``, ... so no two videos share a folder and none is
written outside ``DIR``.
"""

from __future__ import annotations

import csv
import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from rtfer.errors import DataError

VIDEO_PATTERNS = ("*.mp4", "*.avi", "*.mov", "*.mkv", "*.webm", "*.m4v", "*.mpg", "*.mpeg", "*.wmv")
#: Files the batch writes at the top of DIR; no video folder may take these names.
RESERVED = frozenset({"study.csv", "frames.parquet", "study.html", "batch.json"})
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class Video:
    """One recording to analyse: where it is, its id (= output folder under DIR) and its manifest columns."""

    path: Path
    id: str
    columns: dict[str, str] = field(default_factory=dict)


def safe_part(name: str) -> str:
    """A path component made of letters, digits, ``.``, ``_`` and ``-`` only, never hidden, never empty."""
    cleaned = _UNSAFE.sub("_", name).lstrip(".")
    return cleaned or "_"


def _video_id(relative: PurePosixPath) -> str:
    parts = [*relative.parent.parts, relative.stem]
    return "/".join(safe_part(part) for part in parts if part not in ("", ".", "/"))


def _matches(path: Path, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(path.name.lower(), pattern.lower()) for pattern in patterns)


def _relative(path: Path, root: Path) -> PurePosixPath:
    try:
        return PurePosixPath(path.relative_to(root).as_posix())
    except ValueError:  # outside the manifest's folder: the file name alone
        return PurePosixPath(path.name)


def _from_folder(folder: Path, patterns: tuple[str, ...], exclude: Path | None) -> list[tuple[Path, PurePosixPath]]:
    found = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        if exclude is not None and path.resolve().is_relative_to(exclude):
            continue
        if _matches(path, patterns):
            found.append((path, PurePosixPath(relative.as_posix())))
    return found


def read_manifest(manifest: Path) -> list[tuple[Path, PurePosixPath, dict[str, str]]]:
    """``(path, relative path, other columns)`` per row; relative paths are taken from the manifest's folder."""
    with manifest.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if "path" not in (reader.fieldnames or []):
            raise DataError(f"{manifest}: a manifest needs a 'path' column (has: {', '.join(reader.fieldnames or [])})")
        rows = []
        for line, row in enumerate(reader, start=2):
            text = (row.pop("path") or "").strip()
            if not text:
                raise DataError(f"{manifest}:{line}: empty path")
            path = Path(text) if Path(text).is_absolute() else manifest.parent / text
            extra = {str(k): "" if v is None else str(v) for k, v in row.items() if k is not None}
            rows.append((path, _relative(path, manifest.parent), extra))
    return rows


def _unique_ids(videos: list[Video]) -> None:
    """Give every video a distinct id (case-insensitively), never a reserved name, never another's parent."""
    taken: set[str] = set()
    wanted = {video.id.lower() for video in videos}
    parents = {"/".join(key.split("/")[:i]) for key in wanted for i in range(1, key.count("/") + 1)}
    for video in videos:
        base, n = video.id, 1
        while (video.id.lower() in taken or video.id.lower() in RESERVED or video.id.lower() in parents):
            n += 1
            video.id = f"{base}-{n}"
        taken.add(video.id.lower())


def discover(inputs: list[str | Path], patterns: tuple[str, ...] = VIDEO_PATTERNS,
             exclude: Path | None = None) -> list[Video]:
    """The videos named by ``inputs`` (files, folders, ``.csv`` manifests), each once, with unique ids.

    ``exclude`` (the output folder) is never searched, so a results folder inside the input is not analysed.
    """
    exclude = exclude.resolve() if exclude is not None else None
    videos: dict[Path, Video] = {}
    for item in map(Path, inputs):
        if item.is_dir():
            entries = [(path, rel, {}) for path, rel in _from_folder(item, patterns, exclude)]
            if not entries:
                raise DataError(f"{item}: no videos matching {', '.join(patterns)}")
        elif item.suffix.lower() == ".csv" and item.is_file():
            entries = read_manifest(item)
        elif item.exists():
            entries = [(item, PurePosixPath(item.name), {})]
        else:
            raise DataError(f"input not found: {item}")
        for path, relative, columns in entries:
            key = path.resolve()
            if key in videos:
                videos[key].columns.update(columns)
            else:
                videos[key] = Video(path, _video_id(relative), dict(columns))
    result = list(videos.values())
    _unique_ids(result)
    return result
