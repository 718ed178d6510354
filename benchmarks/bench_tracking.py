"""How closely the video tracker's boxes follow per-frame detection, and what it costs (issue 5, docs/faces.md).

    python benchmarks/bench_tracking.py [--shared ../shared] [--frames 240]

For the first frames of each clip at 640x480 the reference is MTCNN on every frame (5-point landmarks).
Per tracker setting: the mean IoU of the subject's box with the reference, its 10th percentile, the frames
where the reference found a face and the tracker returned none, and milliseconds per frame.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from rtfer.faces import FaceDetector, FaceTracker, iou, pick_subject

SETTINGS = {
    "full scan every 5th frame (before issue 5's speed work)": dict(detect_every=5, full_every=5, still_threshold=0),
    "windows every 8th, full every 60th, still-face skip (rtfer analyze at 30 fps)": dict(
        detect_every=8, full_every=60, still_threshold=3.0),
}


def read_frames(path: Path, count: int) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < count:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(cv2.resize(frame, (640, 480)), cv2.COLOR_BGR2GRAY))
    return frames


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--frames", type=int, default=240)
    args = parser.parse_args()
    print("| clip | tracker | mean IoU | IoU p10 | frames lost | ms / frame |")
    print("|---|---|---|---|---|---|")
    for clip in sorted((args.shared / "media" / "videos").glob("*.mp4")):
        frames = read_frames(clip, args.frames)
        reference = [pick_subject(FaceDetector(landmarks=5)(frame)) for frame in frames]
        for name, setting in SETTINGS.items():
            tracker = FaceTracker(FaceDetector(landmarks=5), **setting)
            start = time.perf_counter()
            subjects = [pick_subject(tracker.update(frame)) for frame in frames]
            ms = (time.perf_counter() - start) / len(frames) * 1000
            overlaps = [iou(s.box, r.box) for s, r in zip(subjects, reference, strict=True) if s and r]
            lost = sum(1 for s, r in zip(subjects, reference, strict=True) if r and not s)
            print(f"| {clip.name} | {name} | {np.mean(overlaps):.3f} | {np.percentile(overlaps, 10):.3f} | "
                  f"{lost} | {ms:.2f} |")


if __name__ == "__main__":
    main()
