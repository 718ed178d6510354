"""Face detection, alignment and tracking: geometry on synthetic inputs, behaviour on real frames."""

from __future__ import annotations

import itertools
import math

import cv2
import numpy as np
import pytest

from conftest import SHARED, needs_shared
from rtfer.faces import Face, FaceDetector, FaceTracker, align, as_gray, detect_faces, eye_angle, iou, pick_subject
from rtfer.faces.align import landmark_crop

VIDEOS = SHARED / "media" / "videos"


def synthetic_landmarks(angle_deg: float = 0.0, center=(200.0, 200.0), scale: float = 1.0) -> np.ndarray:
    """68 points with dlib's index layout: jaw 0-16, eyes 36-41 and 42-47, rotated by ``angle_deg``."""
    points = np.zeros((68, 2))
    for i in range(17):  # jaw: a U from (-60, -10) down to the chin (0, 70) and up to (60, -10)
        t = math.pi * i / 16
        points[i] = (-60 * math.cos(t), -10 + 80 * math.sin(t))
    points[36:42] = (-30, -30)
    points[42:48] = (30, -30)
    points[17:36] = (0, 0)
    points[48:68] = (0, 40)
    theta = math.radians(angle_deg)
    rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    return (points * scale) @ rot.T + np.array(center)


@pytest.mark.parametrize("angle", [-30.0, -5.0, 0.0, 12.0, 40.0])
def test_eye_angle_recovers_the_tilt(angle):
    assert eye_angle(synthetic_landmarks(angle)) == pytest.approx(angle, abs=1e-6)


def test_align_levels_the_eyes():
    image = np.full((400, 400), 60, np.uint8)
    marks = synthetic_landmarks(25.0)
    for eye in (marks[36:42].mean(0), marks[42:48].mean(0)):
        cv2.circle(image, (round(eye[0]), round(eye[1])), 6, 255, -1)
    face = Face((140, 140, 120, 120), 1.0, marks.astype(np.float32))
    crop = align(image, face, size=96, margin=0.3)
    ys, xs = np.nonzero(crop > 200)
    left, right = ys[xs < 48], ys[xs >= 48]
    assert abs(left.mean() - right.mean()) < 1.5  # the two blobs now sit on one row
    unrotated = align(image, face, size=96, margin=0.3, rotate=False)
    ys, xs = np.nonzero(unrotated > 200)
    assert abs(ys[xs < 48].mean() - ys[xs >= 48].mean()) > 10


def test_seed2_crop_rule_on_level_landmarks():
    marks = synthetic_landmarks(0.0, center=(200, 200))
    _, (x, y, w, h) = landmark_crop(marks)
    eye_y = 200 - 30
    chin_y = 200 + 70
    assert x == pytest.approx(marks[0, 0]) and x + w == pytest.approx(marks[16, 0])
    assert y + h == pytest.approx(chin_y)
    assert y == pytest.approx(eye_y - (chin_y - eye_y) / 3)


def test_seed2_crop_rule_is_rotation_invariant():
    level = landmark_crop(synthetic_landmarks(0.0))[1]
    tilted = landmark_crop(synthetic_landmarks(-20.0))[1]
    assert tilted[2:] == pytest.approx(level[2:], abs=1e-6)


def test_fer_crop_is_48_gray_and_pads_at_the_border():
    image = np.full((100, 100, 3), 128, np.uint8)
    crop = align(image, Face((-20, -20, 60, 60), 1.0))  # partly outside the frame
    assert crop.shape == (48, 48) and crop.dtype == np.uint8


@pytest.mark.parametrize("frame", [None, np.zeros((0, 0, 3), np.uint8), np.zeros((10, 10), np.uint8),
                                   np.zeros((480, 640, 3), np.uint8), np.zeros((480, 640, 4), np.uint8),
                                   np.zeros((480, 640, 1), np.uint8), np.zeros((240, 320), np.float32),
                                   np.zeros((5,), np.uint8)])
def test_bad_or_empty_frames_give_no_face(frame):
    assert detect_faces(frame) == []


def test_as_gray_handles_channels_and_floats():
    bgra = np.zeros((4, 4, 4), np.uint8)
    bgra[..., 2] = 255
    assert as_gray(bgra).shape == (4, 4) and as_gray(bgra).max() > 60
    assert as_gray(np.ones((4, 4), np.float32)).max() == 255


def test_iou_and_subject_choice():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    small, big = Face((0, 0, 10, 10), 1, track_id=1), Face((50, 50, 40, 40), 1, track_id=2)
    assert pick_subject([small, big]) is big
    assert pick_subject([small, big], track_id=1) is small
    assert pick_subject([small, big], track_id=7) is None
    assert pick_subject([]) is None


class ScriptedDetector:
    """Stands in for the detector: returns prepared faces frame by frame."""

    landmarks = 0

    def __init__(self, script):
        self.script = iter(script)

    def __call__(self, frame):
        return [Face(box, 1.0) for box in next(self.script)]


def test_tracker_keeps_ids_and_drops_lost_faces():
    script = [[(100, 100, 50, 50), (300, 100, 60, 60)],
              [(104, 102, 50, 50), (296, 100, 60, 60)],
              [(108, 104, 50, 50)],                          # the second person leaves
              [(112, 106, 50, 50)],
              [(116, 108, 50, 50), (500, 300, 40, 40)]]      # someone new arrives
    tracker = FaceTracker(ScriptedDetector(script), detect_every=1, max_missed=1, full_every=1)
    frame = np.zeros((480, 640), np.uint8)
    ids = [[f.track_id for f in tracker.update(frame)] for _ in script]
    assert ids[0] == [2, 1]  # largest first
    assert ids[1] == [2, 1] and ids[2] == [1] and ids[3] == [1]
    assert ids[4] == [1, 3]  # id 2 was dropped after missing twice; the newcomer gets a fresh id


def test_tracker_matches_fast_motion_by_centre():
    script = [[(100, 100, 80, 80)], [(150, 100, 80, 80)]]  # moved 50 px: IoU 0.23 < 0.3
    tracker = FaceTracker(ScriptedDetector(script), detect_every=1, full_every=1)
    frame = np.zeros((480, 640), np.uint8)
    assert [f.track_id for f in tracker.update(frame)] == [1]
    assert [f.track_id for f in tracker.update(frame)] == [1]


class WindowedDetector:
    """Records full-frame scans and window scans; the window finds the face unless told it has left."""

    landmarks = 0

    def __init__(self, gone_after: int = 99):
        self.calls: list[str] = []
        self.gone_after = gone_after

    def __call__(self, frame):
        self.calls.append("full")
        return [] if len(self.calls) > self.gone_after else [Face((100, 100, 80, 80), 1.0)]

    def detect_near(self, frame, face):
        self.calls.append("near")
        return [] if len(self.calls) > self.gone_after else [Face((102, 101, 80, 80), 1.0)]


def test_tracker_rescans_the_whole_frame_only_now_and_then():
    detector = WindowedDetector()
    tracker = FaceTracker(detector, detect_every=2, full_every=6)
    frame = np.zeros((480, 640), np.uint8)
    ids = [[f.track_id for f in tracker.update(frame)] for _ in range(8)]
    assert ids == [[1]] * 8
    assert detector.calls == ["full", "near", "near", "full"]  # frames 0, 2, 4, 6


def test_tracker_falls_back_to_a_full_scan_when_the_window_is_empty():
    detector = WindowedDetector(gone_after=1)
    tracker = FaceTracker(detector, detect_every=2, full_every=6)
    frame = np.zeros((480, 640), np.uint8)
    faces = [tracker.update(frame) for _ in range(3)]
    assert detector.calls == ["full", "near", "full"] and faces[2] == []


def test_detector_rejects_bad_settings():
    from rtfer.errors import RtferError

    with pytest.raises(RtferError):
        FaceDetector(landmarks=3)
    with pytest.raises(RtferError):
        FaceDetector(min_face=5)
    with pytest.raises(RtferError, match="choose from mtcnn, hog"):
        FaceDetector(backend="yolo")


def test_scan_scale_follows_min_face_and_caps_huge_frames():
    assert FaceDetector(backend="hog", min_face=160).scan_scale(480, 640) == pytest.approx(0.5)
    assert FaceDetector(backend="mtcnn").scan_scale(480, 640) == 1.0
    assert FaceDetector(min_face=80, max_side=640).scan_scale(2160, 3840) == pytest.approx(640 / 3840)


def read_frames(path, step=1):
    capture = cv2.VideoCapture(str(path))
    frames, index = [], 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if index % step == 0:
            frames.append(frame)
        index += 1
    return frames


@needs_shared("media", "videos")
@pytest.mark.parametrize("backend", ["mtcnn", "hog"])
def test_both_detectors_agree_on_a_real_frame(backend):
    frame = read_frames(VIDEOS / "liveportrait_driving_d0.mp4", step=1000)[0]
    faces = FaceDetector(backend=backend)(frame)
    assert len(faces) == 1 and faces[0].landmarks.shape == (68, 2)
    reference = FaceDetector(backend="hog", landmarks=0)(frame)[0]
    assert iou(faces[0].box, reference.box) > 0.7  # MTCNN boxes are mapped onto dlib's convention


@needs_shared("media", "videos")
@pytest.mark.parametrize("clip", ["liveportrait_driving_d0.mp4", "liveportrait_driving_d12.mp4",
                                  "liveportrait_driving_d18.mp4", "liveportrait_source_s18.mp4"])
def test_real_clips_face_in_most_frames_with_stable_boxes(clip):
    frames = read_frames(VIDEOS / clip, step=3)
    tracker = FaceTracker(detect_every=2)
    results = [tracker.update(frame) for frame in frames]
    found = [faces for faces in results if faces]
    assert len(found) >= 0.9 * len(frames), f"{clip}: face in {len(found)}/{len(frames)} frames"
    boxes = [faces[0].box for faces in found]
    overlaps = [iou(a, b) for a, b in itertools.pairwise(boxes)]
    assert np.median(overlaps) > 0.7
    assert len({faces[0].track_id for faces in found}) <= 2
    crop = align(frames[0], found[0][0])
    assert crop.shape == (48, 48)


@needs_shared("media", "videos")
def test_background_without_people_gives_no_face():
    frame = read_frames(VIDEOS / "liveportrait_source_s18.mp4", step=1000)[0]
    face = detect_faces(frame)[0]
    background = frame[:, : max(face.box[0] - 20, 50)]  # everything left of the face
    assert detect_faces(background) == []
    assert detect_faces(cv2.resize(frame, (3840, 2160)))  # a 4K frame still works (scanned downscaled)


def test_tracker_keeps_the_landmarks_of_a_still_face(monkeypatch):
    import rtfer.faces.track as track_module

    fits = []

    def fake_landmarks(gray, box, points):
        fits.append(box)
        x, y, w, h = box
        return np.array([[x + w * 0.3, y + h * 0.4]] * 2 + [[x + w * 0.7, y + h * 0.4]] * 2 + [[x + w / 2, y + h]],
                        np.float32)

    monkeypatch.setattr(track_module, "predict_landmarks", fake_landmarks)

    class Detector:
        landmarks = 5

        def __call__(self, frame):
            return [Face((100, 100, 80, 80), 1.0, fake_landmarks(frame, (100, 100, 80, 80), 5))]

    tracker = FaceTracker(Detector(), detect_every=50, full_every=50)
    still = np.random.default_rng(0).integers(0, 255, (480, 640), dtype=np.uint8)
    for _ in range(6):
        tracker.update(still)
    assert len(fits) == 2  # the detection, then one fit after it; the still frames reuse it
    tracker.update(np.roll(still, 25, axis=1))  # the face moved
    assert len(fits) == 3
