"""Video analysis end to end: sources, smoothing, change points, the analyze command and engines."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import SHARED, needs_shared
from rtfer.errors import DataError
from rtfer.runtime.engine import TorchEngine, load_engine
from rtfer.taxonomy import FER7
from rtfer.video import OneEuroFilter, OnlineChangeDetector, ProbabilitySmoother, VideoSource, analyze_video
from rtfer.video.changes import offline_change_points

CLIP = SHARED / "media" / "videos" / "liveportrait_driving_d0.mp4"




def write_video(path: Path, frames: list[np.ndarray], fps: float = 25.0) -> Path:
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def blank_frames(count: int, size=(240, 320)) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [np.full((*size, 3), 100, np.uint8) + rng.integers(0, 20, (*size, 3), dtype=np.uint8)
            for _ in range(count)]


def rtfer(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rtfer", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ})


# -- smoothing and change points ----------------------------------------------------------------------
def test_one_euro_smooths_noise_and_follows_a_step():
    rng = np.random.default_rng(0)
    times = np.arange(0, 10, 1 / 30)
    signal = np.where(times < 5, -0.5, 0.5) + rng.normal(0, 0.15, len(times))
    smoother = OneEuroFilter()
    out = np.array([float(smoother(t, x)) for t, x in zip(times, signal, strict=True)])
    assert np.std(np.diff(out[30:140])) < 0.3 * np.std(np.diff(signal[30:140]))   # jitter removed
    assert out[times > 5.6].mean() > 0.35                                          # the step got through


def test_smoothing_does_not_depend_on_frame_rate():
    def run(fps):
        smoother = OneEuroFilter()
        times = np.arange(0, 4, 1 / fps)
        return [float(smoother(t, 1.0 if t >= 1 else 0.0)) for t in times], times

    fast, t_fast = run(60)
    slow, t_slow = run(15)
    at = 1.5
    assert fast[int(np.searchsorted(t_fast, at))] == pytest.approx(slow[int(np.searchsorted(t_slow, at))], abs=0.08)


def test_hold_then_forget_when_the_face_is_lost():
    smoother = ProbabilitySmoother(hold_s=0.5)
    p = np.array([0.1, 0.9])
    smoother.update(0.0, p)
    assert smoother.update(0.3, None) is not None   # within the hold
    assert smoother.update(0.7, None) is None       # past it


def test_offline_change_points_find_a_valence_step():
    times = np.arange(0, 20, 0.1)
    rng = np.random.default_rng(1)
    values = np.where(times < 12, -0.4, 0.5) + rng.normal(0, 0.05, len(times))
    labels = ["sad" if t < 12 else "happy" for t in times]
    changes = offline_change_points(times, values, np.arange(len(times)), labels)
    assert len(changes) == 1
    assert changes[0].time_s == pytest.approx(12.0, abs=0.3)
    assert (changes[0].before, changes[0].after) == ("sad", "happy")


def test_change_points_of_an_hour_at_30_fps():
    """An hour of frames: the search runs on 0.1 s blocks in compiled code (the pure-Python search would
    not finish); the changes land on the block grid."""
    rng = np.random.default_rng(3)
    times = np.arange(0, 3600, 1 / 30)
    values = np.where(times < 1200, -0.5, np.where(times < 2400, 0.4, -0.1)) + rng.normal(0, 0.05, len(times))
    values[::7] = np.nan  # frames without a face are skipped
    changes = offline_change_points(times, values, np.arange(len(times)), ["neutral"] * len(times))
    assert [round(c.time_s) for c in changes] == [1200, 2400]


def test_no_change_in_a_flat_noisy_series():
    rng = np.random.default_rng(2)
    times = np.arange(0, 30, 0.1)
    changes = offline_change_points(times, rng.normal(0.1, 0.08, len(times)), np.arange(len(times)),
                                     ["neutral"] * len(times))
    assert changes == []


def test_online_detector_fires_once_per_change():
    detector = OnlineChangeDetector(window_s=1.0, threshold=0.3, refractory_s=2.0)
    fired = [c for t in np.arange(0, 8, 0.1)
             if (c := detector.update(t, -0.5 if t < 4 else 0.5, "sad" if t < 4 else "happy")) is not None]
    assert len(fired) == 1 and 4.0 <= fired[0].time_s <= 5.0


# -- sources ---------------------------------------------------------------------------------------------
def test_bad_sources_are_clear_errors(tmp_path):
    with pytest.raises(DataError, match="video not found"):
        VideoSource(tmp_path / "missing.mp4")
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(DataError, match="empty file"):
        VideoSource(tmp_path / "empty.mp4")
    (tmp_path / "text.mp4").write_text("this is not a video\n" * 50)
    with pytest.raises(DataError, match="not a readable video"):
        VideoSource(tmp_path / "text.mp4")
    (tmp_path / "frames").mkdir()
    with pytest.raises(DataError, match="no image frames"):
        VideoSource(tmp_path / "frames")


def test_frame_folder_and_subsampling(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, frame in enumerate(blank_frames(10)):
        cv2.imwrite(str(folder / f"{i:04d}.png"), frame)
    with VideoSource(folder, frames_fps=10) as source:
        frames = list(source.frames(every=3))
    assert [i for i, _, _ in frames] == [0, 3, 6, 9]
    assert frames[1][1] == pytest.approx(0.3)


# -- engines ---------------------------------------------------------------------------------------------
def test_onnx_and_torch_engines_agree(weights):
    """Weights of a configuration that ships no graph: its template is exported once with PyTorch."""
    torch_engine = TorchEngine(weights)
    onnx_engine = load_engine(weights, "onnx")
    faces = np.random.default_rng(0).integers(0, 256, (37, 48, 48), dtype=np.uint8)
    difference = np.abs(onnx_engine.predict(faces) - torch_engine.predict(faces)).max()
    assert difference <= 1e-4
    assert onnx_engine.predict(faces[:0]).shape == (0, 7)


# -- analyze ---------------------------------------------------------------------------------------------
def test_video_without_faces_records_every_frame(weights, tmp_path):
    video = write_video(tmp_path / "empty_room.mp4", blank_frames(30))
    timeline = analyze_video(video, weights=weights, progress=False)
    assert len(timeline.rows) == 30 and all(r.face is None for r in timeline.rows)
    summary = timeline.summary()
    assert summary["frames_with_face"] == 0 and summary["change_points"] == []
    assert summary["valence"]["mean"] is None


@pytest.mark.parametrize("args", [[], ["--every", "3"]])
def test_analyze_writes_one_row_per_processed_frame(weights, tmp_path, args):
    video = write_video(tmp_path / "room.mp4", blank_frames(20))
    result = rtfer("analyze", str(video), "--out", str(tmp_path / "out"), "--weights", str(weights), "--quiet",
                   *args)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader((tmp_path / "out" / "timeline.csv").open()))
    assert len(rows) == (7 if args else 20)
    assert rows[0]["face_found"] == "0" and rows[0]["valence"] == ""
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["frames_processed"] == len(rows) and summary["source"]["fps"] == 25
    assert (tmp_path / "out" / "timeline.png").is_file()


@pytest.mark.parametrize(("content", "message"), [
    (b"", "empty file"), (b"not a video\n" * 100, "not a readable video"),
    (b"\x00\x00\x00\x18ftypmp42" + os.urandom(4000), "not a readable video")])
def test_analyze_bad_input_exits_cleanly_and_leaves_nothing(weights, tmp_path, content, message):
    video = tmp_path / "clip.mp4"
    video.write_bytes(content)
    out = tmp_path / "out"
    result = rtfer("analyze", str(video), "--out", str(out), "--weights", str(weights), "--quiet")
    assert result.returncode == 2 and "Traceback" not in result.stderr and message in result.stderr
    assert not out.exists() or not any(out.iterdir())


@needs_shared("media", "videos")
def test_real_clip_end_to_end(weights, tmp_path):
    result = rtfer("analyze", str(CLIP), "--out", str(tmp_path / "out"), "--weights", str(weights), "--quiet",
                   "--annotate")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader((tmp_path / "out" / "timeline.csv").open()))
    capture = cv2.VideoCapture(str(CLIP))
    assert len(rows) == int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    with_face = [r for r in rows if r["face_found"] == "1"]
    assert len(with_face) >= 0.9 * len(rows)
    for row in with_face:
        assert -1 <= float(row["valence"]) <= 1 and -1 <= float(row["valence_smooth"]) <= 1
        assert math.isclose(sum(float(row[f"p_{n}"]) for n in FER7.labels), 1.0, abs_tol=1e-3)
    annotated = cv2.VideoCapture(str(tmp_path / "out" / "annotated.mp4"))
    assert int(annotated.get(cv2.CAP_PROP_FRAME_COUNT)) == len(rows)


@needs_shared("media", "videos")
def test_face_appearing_and_leaving(weights, tmp_path):
    capture = cv2.VideoCapture(str(CLIP))
    face_frames = []
    for _ in range(25):
        _, frame = capture.read()
        face_frames.append(cv2.resize(frame, (320, 320)))
    empty = [np.full((320, 320, 3), 90, np.uint8)] * 25
    video = write_video(tmp_path / "in_and_out.mp4", empty + face_frames + empty)
    timeline = analyze_video(video, weights=weights, progress=False, detect_every=1)
    found = np.array([r.face is not None for r in timeline.rows])
    assert not found[:25].any() and found[25:50].mean() > 0.9 and not found[52:].any()
    held = [r.valence_smooth is not None for r in timeline.rows[50:]]
    assert any(held[:5]) and not any(held[15:])  # a short, bounded hold after the face leaves
