"""H.264 in MP4, the video browsers play: the encoder is the ffmpeg binary the imageio-ffmpeg wheel carries
(OpenCV's own writer only makes MPEG-4 Part 2, which Chromium and Firefox refuse to play)."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import cv2
import numpy as np

from rtfer.errors import RtferError

log = logging.getLogger(__name__)

#: (container extension, FourCC) pairs a browser's <video> plays as they are; anything else is re-encoded
PLAYABLE = {("mp4", "avc1"), ("mp4", "h264"), ("mov", "avc1"), ("webm", "vp80"), ("webm", "vp90")}
ENCODE = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p", "-movflags", "+faststart"]


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def is_playable(path: Path) -> bool:
    """Whether a browser plays ``path`` as stored (by container and the codec OpenCV reports)."""
    capture = cv2.VideoCapture(str(path))
    code = int(capture.get(cv2.CAP_PROP_FOURCC))
    capture.release()
    fourcc = "".join(chr((code >> 8 * i) & 0xFF) for i in range(4)).lower()
    return (path.suffix.lstrip(".").lower(), fourcc) in PLAYABLE


def make_playable(source: Path, target: Path) -> None:
    """Re-encode ``source`` to H.264 MP4 at ``target`` (no audio: the app never uses it)."""
    scratch = target.with_suffix(".partial.mp4")
    done = subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(source), "-an",
                           "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", *ENCODE, str(scratch)],
                          capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        scratch.unlink(missing_ok=True)
        raise RtferError(f"cannot re-encode {source.name} for the browser: {done.stderr.strip()[-300:]}")
    scratch.replace(target)


class H264Writer:
    """Frame-by-frame H.264 MP4 writer (BGR frames, as OpenCV gives them), fed to ffmpeg through a pipe."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int]):
        self.path, self.size = path, size
        width, height = size
        self._process = subprocess.Popen(
            [ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}",
             "-r", f"{fps:.6g}", "-i", "-", "-an", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", *ENCODE, str(path)],
            stdin=subprocess.PIPE, stderr=subprocess.PIPE)

    def write(self, frame: np.ndarray) -> None:
        if frame.shape[1::-1] != self.size:
            raise RtferError(f"frame size {frame.shape[1::-1]} differs from the video's {self.size}")
        try:
            self._process.stdin.write(np.ascontiguousarray(frame, dtype=np.uint8).tobytes())
        except BrokenPipeError as exc:
            raise RtferError(f"cannot write video {self.path}: {self._process.stderr.read().decode()[-300:]}") from exc

    def close(self) -> None:
        self._process.stdin.close()
        error = self._process.stderr.read().decode()
        if self._process.wait() != 0:
            raise RtferError(f"cannot write video {self.path}: {error.strip()[-300:]}")
