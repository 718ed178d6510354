"""Where frames come from: video files, webcams, folders of frames and stream URLs.

Every source yields ``(index, time_s, frame_bgr)``. Files and frame folders are timed by their frame
rate (index / fps), live sources by the wall clock since the first frame. Subsampling (``every`` or a
target ``fps``) skips frames with ``grab()``, which does not convert them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from rtfer.data.readers import IMAGE_SUFFIXES
from rtfer.errors import DataError

MAX_FRAME_PIXELS = 8192 * 8192


def frame_step(source_fps: float, every: int = 1, fps: float | None = None) -> int:
    """Keep every n-th frame: ``every``, or the step that gives about ``fps`` frames per second."""
    return max(1, round(source_fps / fps)) if fps else max(1, every)


@dataclass
class VideoInfo:
    source: str
    kind: str           # file, camera, frames, stream
    fps: float
    frame_count: int    # 0 when unknown (cameras, streams)
    width: int
    height: int

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps if self.frame_count and self.fps else 0.0


class VideoSource:
    """An opened source; iterate it for frames. Use as a context manager to release the device."""

    def __init__(self, spec: str | int | Path, frames_fps: float = 30.0):
        self._capture: cv2.VideoCapture | None = None
        self._files: list[Path] = []
        text = str(spec)
        if isinstance(spec, int) or text.isdigit():
            self._open_capture(int(text), "camera", text)
        elif "://" in text:
            self._open_capture(text, "stream", text)
        else:
            path = Path(text)
            if not path.exists():
                raise DataError(f"video not found: {path}")
            if path.is_dir():
                self._open_folder(path, frames_fps)
            else:
                self._open_file(path)

    # -- opening -----------------------------------------------------------------------------------
    def _open_capture(self, target: int | str, kind: str, name: str) -> None:
        capture = cv2.VideoCapture(target)
        if not capture.isOpened():
            raise DataError(f"cannot open {kind} {name}")
        self._capture = capture
        fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
        self.info = VideoInfo(name, kind, fps if 0 < fps < 1000 else 30.0, 0,
                              int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))

    def _open_file(self, path: Path) -> None:
        if path.stat().st_size == 0:
            raise DataError(f"{path}: empty file")
        capture = cv2.VideoCapture(str(path))
        ok, first = capture.read() if capture.isOpened() else (False, None)
        if not ok or first is None or first.size == 0:
            capture.release()
            raise DataError(f"{path}: not a readable video (no frame could be decoded)")
        if first.shape[0] * first.shape[1] > MAX_FRAME_PIXELS:
            capture.release()
            raise DataError(f"{path}: frames of {first.shape[1]}x{first.shape[0]} are too large")
        capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
        fps = capture.get(cv2.CAP_PROP_FPS)
        self._capture = capture
        self.info = VideoInfo(str(path), "file", fps if 0 < fps < 1000 else 30.0,
                              max(int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), 0), first.shape[1], first.shape[0])

    def _open_folder(self, path: Path, fps: float) -> None:
        self._files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not self._files:
            raise DataError(f"{path}: no image frames in this folder")
        first = self._read_file(self._files[0])
        if first is None:
            raise DataError(f"{self._files[0]}: not a readable image")
        self.info = VideoInfo(str(path), "frames", fps, len(self._files), first.shape[1], first.shape[0])

    @staticmethod
    def _read_file(path: Path) -> np.ndarray | None:
        data = np.fromfile(path, dtype=np.uint8)
        return cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None

    # -- reading -----------------------------------------------------------------------------------
    def frames(self, every: int = 1, fps: float | None = None) -> Iterator[tuple[int, float, np.ndarray]]:
        """Frames as (index, time_s, BGR); every ``every``-th frame, or about ``fps`` per second."""
        step = frame_step(self.info.fps, every, fps)
        if self._files:
            for index in range(0, len(self._files), step):
                frame = self._read_file(self._files[index])
                if frame is not None:
                    yield index, index / self.info.fps, frame
            return
        assert self._capture is not None
        live = self.info.kind in ("camera", "stream")
        start = time.monotonic()
        index = 0
        while True:
            if index % step == 0:
                ok, frame = self._capture.read()
                if not ok or frame is None:
                    return
                yield index, (time.monotonic() - start) if live else index / self.info.fps, frame
            elif not self._capture.grab():
                return
            index += 1

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
