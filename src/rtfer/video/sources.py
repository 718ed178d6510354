"""Where frames come from: video files, webcams, folders of frames and stream URLs.

Every source yields ``(index, time_s, frame_bgr)``. Files are timed by their container's timestamps
(so variable-frame-rate video keeps its real times), frame folders by their frame rate (index / fps),
live sources by the wall clock since the first frame. Subsampling (``every`` or a target ``fps``) skips
frames with ``grab()``, which does not convert them.

Frames are downscaled as they are decoded to fit ``WORKING_SIZE``: the models see 48x48 or 128x128 face
crops, and a face that fills a useful part of a 1920x1080 frame is still far larger than that, so more
pixels only cost memory (a 7680x4320 BGR frame is 100 MB). Only one full-size frame exists at a time, in
a buffer reused for every frame. ``VideoInfo.width``/``height`` are the analysed (downscaled) size, which
face boxes refer to; ``source_width``/``source_height`` the recording's.
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

#: Largest frame decoded at all (8K DCI); larger claims are refused before analysis.
MAX_FRAME_PIXELS = 8192 * 4320
#: Frames are downscaled to fit in this (width, height), either orientation (docs/security.md).
WORKING_SIZE = (1920, 1080)


def working_scale(width: int, height: int) -> float:
    """Factor (<= 1) that fits a frame of this size into WORKING_SIZE, in either orientation."""
    long_side, short_side = max(width, height), min(width, height)
    return min(1.0, WORKING_SIZE[0] / long_side, WORKING_SIZE[1] / short_side) if short_side else 1.0


def to_working_size(frame: np.ndarray) -> np.ndarray:
    scale = working_scale(frame.shape[1], frame.shape[0])
    if scale >= 1.0:
        return frame
    size = (max(1, round(frame.shape[1] * scale)), max(1, round(frame.shape[0] * scale)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def frame_step(source_fps: float, every: int = 1, fps: float | None = None) -> int:
    """Keep every n-th frame: ``every``, or the step that gives about ``fps`` frames per second."""
    return max(1, round(source_fps / fps)) if fps else max(1, every)


@dataclass
class VideoInfo:
    source: str
    kind: str           # file, camera, frames, stream
    fps: float
    frame_count: int    # 0 when unknown (cameras, streams)
    width: int          # of the analysed frames (after downscaling to WORKING_SIZE)
    height: int
    source_width: int = 0   # of the recording; 0 when the same as width/height
    source_height: int = 0

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps if self.frame_count and self.fps else 0.0


class VideoSource:
    """An opened source; iterate it for frames. Use as a context manager to release the device."""

    def __init__(self, spec: str | int | Path, frames_fps: float = 30.0):
        self._capture: cv2.VideoCapture | None = None
        self._files: list[Path] = []
        self._first: np.ndarray | None = None  # a file's first frame, read when opening it
        self._buffer: np.ndarray | None = None  # the full-size frame, reused
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
    def _set_info(self, name: str, kind: str, fps: float, count: int, width: int, height: int) -> None:
        scale = working_scale(width, height)
        work = (max(1, round(width * scale)), max(1, round(height * scale))) if scale < 1 else (width, height)
        self.info = VideoInfo(name, kind, fps, count, *work, *((width, height) if scale < 1 else (0, 0)))

    def _open_capture(self, target: int | str, kind: str, name: str) -> None:
        capture = cv2.VideoCapture(target)
        if not capture.isOpened():
            raise DataError(f"cannot open {kind} {name}")
        self._capture = capture
        fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
        self._set_info(name, kind, fps if 0 < fps < 1000 else 30.0, 0,
                       int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))

    def _open_file(self, path: Path) -> None:
        if path.stat().st_size == 0:
            raise DataError(f"{path}: empty file")
        capture = cv2.VideoCapture(str(path))
        width, height = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if width * height > MAX_FRAME_PIXELS:  # from the header: nothing decoded yet
            capture.release()
            raise DataError(f"{path}: frames of {width}x{height} are too large (at most 8192x4320)")
        if working_scale(width, height) < 1:  # one decoder thread: each thread holds full-size frames
            capture.release()
            capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])
        ok, first = capture.read() if capture.isOpened() else (False, None)
        if not ok or first is None or first.size == 0:
            capture.release()
            raise DataError(f"{path}: not a readable video (no frame could be decoded)")
        if first.shape[0] * first.shape[1] > MAX_FRAME_PIXELS:
            capture.release()
            raise DataError(f"{path}: frames of {first.shape[1]}x{first.shape[0]} are too large")
        # kept, not re-read: seeking back to frame 0 fails on some files (one-frame videos among them)
        self._first_ms = capture.get(cv2.CAP_PROP_POS_MSEC)
        self._first = to_working_size(first)
        self._buffer = first if self._first is not first else None
        fps = capture.get(cv2.CAP_PROP_FPS)
        self._capture = capture
        self._set_info(str(path), "file", fps if 0 < fps < 1000 else 30.0,
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
        frame = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
        return None if frame is None else to_working_size(frame)

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
        if self.info.kind == "file":
            yield from self._file_frames(step)
            return
        start = time.monotonic()
        index = 0
        while True:
            if index % step == 0:
                frame = self._read()
                if frame is None:
                    return
                yield index, time.monotonic() - start, frame
            elif not self._capture.grab():
                return
            index += 1

    def _file_frames(self, step: int) -> Iterator[tuple[int, float, np.ndarray]]:
        """A file's frames, timed by the container: time since the first frame's timestamp. Where the
        container gives none (0 after the first frame, or going backwards), index / fps instead."""
        if self._first is None:  # a second pass over the file
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            first = self._read()
            if first is None:
                return
            self._first_ms = self._capture.get(cv2.CAP_PROP_POS_MSEC)
        else:
            first, self._first = self._first, None
        yield 0, 0.0, first
        last_s = 0.0
        index = 1
        while True:
            if index % step == 0:
                frame = self._read()
                if frame is None:
                    return
                stamp_s = (self._capture.get(cv2.CAP_PROP_POS_MSEC) - self._first_ms) / 1000
                last_s = stamp_s if stamp_s > last_s else max(last_s, index / self.info.fps)
                yield index, last_s, frame
            elif not self._capture.grab():
                return
            index += 1

    def _read(self) -> np.ndarray | None:
        """The next frame at working size; frames to downscale are decoded into one reused buffer."""
        downscaled = bool(self.info.source_width)
        ok, frame = self._capture.read(self._buffer) if downscaled and self._buffer is not None \
            else self._capture.read()
        if not ok or frame is None or frame.size == 0:
            return None
        if not downscaled:
            return frame
        self._buffer = frame
        return to_working_size(frame)

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
