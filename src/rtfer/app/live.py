"""One live session: frames in, per-frame emotion results out (tracking, smoothing, online change points)."""

from __future__ import annotations

import struct
import threading
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from rtfer.faces import FaceTracker, pick_subject
from rtfer.runtime.recognizer import EmotionRecognizer
from rtfer.video.changes import ChangeDetector
from rtfer.video.scoring import SubjectScorer
from rtfer.video.timeline import FrameResult, frame_record

#: Largest frame accepted over the WebSocket (the page sends about 640x480 JPEG, ~30-60 kB).
MAX_FRAME_BYTES = 2 * 1024 * 1024
MAX_FRAME_PIXELS = 1920 * 1080
#: JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic): they carry the image size.
_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


class FrameError(ValueError):
    """A malformed frame message; the client gets the message back, the session goes on."""


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a JPEG's start-of-frame header, read without decoding anything."""
    if data[:2] != b"\xff\xd8":
        raise FrameError("frames must be JPEG images")
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            raise FrameError("frame is not a well-formed JPEG")
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            position += 2
            continue
        (length,) = struct.unpack(">H", data[position + 2:position + 4])
        if marker in _SOF_MARKERS and position + 9 <= len(data):
            height, width = struct.unpack(">HH", data[position + 5:position + 9])
            return width, height
        if marker == 0xDA or length < 2:  # image data before any size: not a JPEG we accept
            break
        position += 2 + length
    raise FrameError("frame is not a well-formed JPEG (no size header)")


def check_frame_message(message: bytes) -> tuple[float, bytes]:
    """A binary frame message: 8 bytes little-endian float64 time (s since session start), then a JPEG.

    Checks everything that can be checked without decoding (cheap, on the event loop): size, time, and
    the image's dimensions from its header, so a small file that would decode to gigabytes is refused.
    """
    if len(message) > MAX_FRAME_BYTES:
        raise FrameError(f"frame larger than {MAX_FRAME_BYTES // 1024} kB")
    if len(message) < 16:
        raise FrameError("a frame message is an 8-byte time followed by an image")
    (time_s,) = struct.unpack("<d", message[:8])
    if not np.isfinite(time_s) or time_s < 0:
        raise FrameError("frame time must be a finite number of seconds >= 0")
    width, height = jpeg_size(message[8:])
    if width * height > MAX_FRAME_PIXELS:
        raise FrameError("frame too large; send at most 1920x1080")
    if width == 0 or height == 0:
        raise FrameError("frame has no pixels")
    return time_s, message[8:]


def decode_frame(jpeg: bytes) -> np.ndarray:
    """Decode a checked JPEG (in a worker thread: decoding takes milliseconds)."""
    image = cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise FrameError("frame is not a decodable image")
    if image.shape[0] * image.shape[1] > MAX_FRAME_PIXELS:  # the header lied
        raise FrameError("frame too large; send at most 1920x1080")
    return image


@dataclass
class LiveSession:
    """State of one live session. ``process`` is called from a worker thread, one frame at a time.
    ``seq`` starts at the number of frames already stored, so a reconnecting client continues the timeline."""

    recognizer: EmotionRecognizer
    model_lock: threading.Lock
    track_id: int | None = None
    seq: int = 0
    tracker: FaceTracker = field(init=False)
    scorer: SubjectScorer = field(init=False)
    changes: ChangeDetector = field(default_factory=ChangeDetector)

    def __post_init__(self) -> None:
        self.tracker = FaceTracker(self.recognizer.detector, detect_every=3, full_every=15)
        self.scorer = SubjectScorer(self.recognizer.labels)

    def process_jpeg(self, time_s: float, jpeg: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
        """Decode and process one checked frame (both off the event loop)."""
        return self.process(time_s, decode_frame(jpeg))

    def process(self, time_s: float, frame: np.ndarray) -> tuple[dict[str, Any], dict[str, Any]]:
        """Returns (the reply for the page, the timeline record to store)."""
        labels = self.recognizer.labels
        with self.model_lock:  # the face models are not thread-safe; ONNX Runtime is, but keep it simple
            faces = self.tracker.update(frame)
            crops = [self.recognizer.crop(frame, face) for face in faces]
            probs, intensity = self.recognizer.classify_with_intensity(crops)
        results = self.recognizer.results(faces, probs, intensity)
        subject_face = pick_subject(faces, self.track_id)
        index = next((i for i, face in enumerate(faces) if face is subject_face), None)
        row = self.scorer.score(FrameResult(self.seq, time_s, subject_face,
                                            probs[index] if index is not None else None,
                                            intensity=intensity[index] if index is not None and intensity is not None
                                            else None))
        change = self.changes.update(row)
        reply = {
            "type": "result", "seq": self.seq, "time_s": time_s,
            "frame_size": [int(frame.shape[1]), int(frame.shape[0])],
            "faces": [r.to_dict() for r in results],
            "subject": subject_face.track_id if subject_face else None,
            "label": row.label or None,
            "valence": None if row.valence is None else round(row.valence, 4),
            "valence_smooth": None if row.valence_smooth is None else round(row.valence_smooth, 4),
            "valence_band": None if row.valence_low is None else [round(row.valence_low, 4),
                                                                  round(row.valence_high, 4)],
            "smooth_probabilities": None if row.smooth_probs is None or subject_face is None else
            {name: round(float(v), 4) for name, v in zip(labels, row.smooth_probs, strict=True)},
            "change": change.to_dict() if change else None,
            "intensity": None if row.intensity is None else
            {name: round(float(v), 4) for name, v in zip(labels, row.intensity, strict=True)},
        }
        record = frame_record(row, labels, self.recognizer.has_intensity)
        self.seq += 1
        return reply, record
