"""End-to-end video speed on this machine (issue 5, docs/performance.md).

    python benchmarks/bench_video.py [--weights NAME] [--fer-python /tmp/ferpeer/bin/python] \
        [--out docs/results/video_perf.json]

Each clip of ../shared/media/videos is resized to 640x480 and to 1280x720 (``--fit stretch``, what the
fer peer tool's ``--resize`` does, and how the reference figures for fer were measured) or letterboxed
into them (``--fit letterbox``: black borders, less image to search), and written once to a temp folder,
so every pipeline decodes the same files. Per clip and size it measures:

* decode only (the ceiling);
* rtfer file mode, end to end (`analyze_video`: decode, detect/track, align, batched classify, smoothing,
  change points), and a stage breakdown from an instrumented run of the same steps;
* rtfer live mode: frame by frame, batch 1, per-frame latency of detect/track + align + classify;
* the `fer` package's pipeline (`../shared/tools/fer_peer/fer_video_peer.py`, in its own venv, with
  FER_PEER_DATA set as its README says) when --fer-python is given.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from bench_detectors import letterbox

from rtfer.faces import FaceDetector, FaceTracker, as_gray, pick_subject
from rtfer.runtime.recognizer import EmotionRecognizer
from rtfer.runtime.weights import DEFAULT_MODEL
from rtfer.video import VideoSource, analyze_video


def make_clip(source: Path, out: Path, size: tuple[int, int], fit: str = "stretch") -> Path:
    capture = cv2.VideoCapture(str(source))
    fps = capture.get(cv2.CAP_PROP_FPS)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        writer.write(letterbox(frame, *size) if fit == "letterbox" else cv2.resize(frame, size))
    writer.release()
    return out


def decode_fps(path: Path) -> float:
    start, count = time.perf_counter(), 0
    with VideoSource(path) as video:
        for _ in video.frames():
            count += 1
    return count / (time.perf_counter() - start)


def file_mode_tracker(path: Path, recognizer: EmotionRecognizer) -> FaceTracker:
    """The tracker as ``analyze_video`` sets it up: window re-detection every 8 frames, full scans every 2 s."""
    with VideoSource(path) as video:
        return FaceTracker(recognizer.detector, detect_every=8, full_every=round(2 * video.info.fps))


def stage_breakdown(path: Path, recognizer: EmotionRecognizer, batch: int = 32) -> dict[str, float]:
    """Milliseconds per frame of each stage in file mode (batched classification)."""
    tracker = file_mode_tracker(path, recognizer)
    times = {"decode": 0.0, "detect_track": 0.0, "align": 0.0, "classify": 0.0}
    crops: list[np.ndarray] = []
    frames = 0
    with VideoSource(path) as video:
        iterator = video.frames()
        while True:
            t0 = time.perf_counter()
            item = next(iterator, None)
            t1 = time.perf_counter()
            if item is None:
                break
            gray = as_gray(item[2])
            face = pick_subject(tracker.update(gray))
            t2 = time.perf_counter()
            if face is not None:
                crops.append(recognizer.crop(gray, face))
            t3 = time.perf_counter()
            if len(crops) == batch:
                recognizer.classify(crops)
                crops = []
            t4 = time.perf_counter()
            times["decode"] += t1 - t0
            times["detect_track"] += t2 - t1
            times["align"] += t3 - t2
            times["classify"] += t4 - t3
            frames += 1
    if crops:
        t = time.perf_counter()
        recognizer.classify(crops)
        times["classify"] += time.perf_counter() - t
    return {k: round(v / frames * 1000, 3) for k, v in times.items()}


def live_latency(path: Path, recognizer: EmotionRecognizer) -> dict[str, float]:
    """Per-frame latency (ms) when frames are handled one at a time, as in a live session."""
    tracker = FaceTracker(recognizer.detector, detect_every=3, full_every=15)  # as the app's live sessions
    latencies = []
    with VideoSource(path) as video:
        for _, _, frame in video.frames():
            start = time.perf_counter()
            face = pick_subject(tracker.update(frame))
            if face is not None:
                recognizer.classify([recognizer.crop(frame, face)])
            latencies.append((time.perf_counter() - start) * 1000)
    values = np.array(latencies)
    return {"p50_ms": round(float(np.percentile(values, 50)), 2), "p95_ms": round(float(np.percentile(values, 95)), 2),
            "max_ms": round(float(values.max()), 2), "fps": round(1000 / float(values.mean()), 1)}


def fer_peer_fps(python: str, script: Path, path: Path) -> float | None:
    result = subprocess.run([python, str(script), str(path)], capture_output=True, text=True, timeout=600)
    match = re.search(r"incl\. decode: [\d.]+ ms/frame = ([\d.]+) fps", result.stdout)
    return float(match.group(1)) if match else None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--weights", default=DEFAULT_MODEL)
    parser.add_argument("--fer-python", help="python of a venv set up as in ../shared/tools/fer_peer/README.md")
    parser.add_argument("--fit", choices=("stretch", "letterbox"), default="stretch")
    parser.add_argument("--backend", default="auto", help="inference engine (auto: the 8-bit graph when shipped)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    recognizer = EmotionRecognizer(args.weights, args.backend)
    recognizer.detector = FaceDetector(landmarks=recognizer.landmarks_needed)  # as analyze_video
    side = recognizer.meta.input_size
    recognizer.classify(np.zeros((1, side, side), np.uint8))  # warm-up (and the one-off ONNX export)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for clip in sorted((args.shared / "media" / "videos").glob("*.mp4")):
            for size in ((640, 480), (1280, 720)):
                path = make_clip(clip, Path(tmp) / f"{clip.stem}-{size[0]}x{size[1]}.mp4", size, args.fit)
                if not results:  # warm-up: first calls into OpenCV DNN and ONNX Runtime allocate
                    analyze_video(path, weights=args.weights, progress=False, recognizer=recognizer)
                start = time.perf_counter()
                timeline = analyze_video(path, weights=args.weights, progress=False, recognizer=recognizer)
                row = {"clip": clip.name, "size": f"{size[0]}x{size[1]}", "fit": args.fit, "frames": len(timeline.rows),
                       "engine": recognizer.engine.backend,
                       "decode_fps": round(decode_fps(path), 1),
                       "file_mode_fps": round(len(timeline.rows) / (time.perf_counter() - start), 1),
                       "breakdown_ms": stage_breakdown(path, recognizer), "live": live_latency(path, recognizer)}
                if args.fer_python:
                    row["fer_fps"] = fer_peer_fps(args.fer_python, args.shared / "tools/fer_peer/fer_video_peer.py",
                                                  path)
                results.append(row)
                print(json.dumps(row), flush=True)
    print("\n| clip | size | decode only fps | rtfer file mode fps | fer fps | live fps | live p50 / p95 ms |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['clip']} | {r['size']} | {r['decode_fps']} | {r['file_mode_fps']} | {r.get('fer_fps', '-')} | "
              f"{r['live']['fps']} | {r['live']['p50_ms']} / {r['live']['p95_ms']} |")
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
