"""``annotated.mp4``: the video with the subject's box, label and a running valence trace."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from rtfer.report.palette import bgr
from rtfer.video.h264 import H264Writer
from rtfer.video.sources import frame_step
from rtfer.video.timeline import FrameResult, Timeline

TRACE_SECONDS = 10.0


class AnnotatedWriter:
    """Writes annotated frames; pass its ``write`` as ``on_frame`` to ``analyze_video``."""

    def __init__(self, path: str | Path, every: int = 1, fps: float | None = None):
        self.path = Path(path)
        self.every, self.fps = every, fps  # the subsampling of the analysis, to time the output
        self._writer: H264Writer | None = None

    def write(self, frame: np.ndarray, result: FrameResult, timeline: Timeline) -> None:
        if self._writer is None:
            height, width = frame.shape[:2]
            rate = timeline.info.fps / frame_step(timeline.info.fps, self.every, self.fps)
            self._writer = H264Writer(self.path, rate, (width, height))  # H.264: browsers play it
        self._writer.write(self.draw(frame.copy(), result, timeline))

    @staticmethod
    def draw(frame: np.ndarray, result: FrameResult, timeline: Timeline) -> np.ndarray:
        height, width = frame.shape[:2]
        scale = max(height / 720, 0.5)
        if result.face is not None:
            x, y, w, h = result.face.box
            color = bgr(result.label)
            cv2.rectangle(frame, (x, y), (x + w, y + h), color, max(2, round(2 * scale)))
            text = f"{result.label} {result.valence_smooth:+.2f}" if result.valence_smooth is not None else ""
            cv2.putText(frame, text, (x, max(y - 8, 20)), cv2.FONT_HERSHEY_SIMPLEX, 0.8 * scale, color,
                        max(1, round(2 * scale)), cv2.LINE_AA)
        # running valence trace of the last TRACE_SECONDS in a band at the bottom
        band = round(height * 0.18)
        top = height - band
        overlay = frame[top:].copy()
        overlay[:] = (overlay * 0.4).astype(np.uint8)
        frame[top:] = overlay
        mid = top + band // 2
        cv2.line(frame, (0, mid), (width, mid), (160, 160, 160), 1)
        points = [(r.time_s, r.valence_smooth) for r in timeline.rows
                  if r.valence_smooth is not None and r.time_s >= result.time_s - TRACE_SECONDS]
        if len(points) > 1:
            xy = np.array([(width * (1 - (result.time_s - t) / TRACE_SECONDS), mid - v * (band / 2 - 4))
                           for t, v in points], dtype=np.int32)
            cv2.polylines(frame, [xy], False, (255, 255, 255), max(1, round(2 * scale)), cv2.LINE_AA)
        return frame

    def close(self) -> None:
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.close()
