"""The second seed system: compact VGG-S, 68-landmark crops, brightness/blur augmentation, intensity head."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from conftest import SHARED, SMALL_VGGS, needs_shared, pattern_face, write_tree
from rtfer.data.aligned import detector_box, landmark_align_face
from rtfer.data.readers import FaceDataset
from rtfer.evaluation.intensity import blend_pairs, ranking_and_calibration
from rtfer.models import create_model, model_spec
from rtfer.runtime.engine import TorchEngine, load_engine
from rtfer.runtime.predict import predict_intensity
from rtfer.runtime.torch_weights import load_model
from rtfer.taxonomy import CKPLUS7, FER7, LabelScheme
from rtfer.train.augment import BLUR_KERNELS, BRIGHTNESS_GAINS, BrightnessBlur
from rtfer.train.trainer import TrainConfig, Trainer, mixup_partners
from rtfer.video import analyze_video

CLIP = SHARED / "media" / "videos" / "liveportrait_driving_d0.mp4"


def rtfer(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rtfer", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ})


# -- model ----------------------------------------------------------------------------------------------
def test_vggs_is_registered_with_its_crop_and_augmentation():
    spec = model_spec("vggs")
    assert (spec.input_size, spec.alignment, spec.augment) == (128, "landmarks68", "brightness-blur")


def test_vggs_size_and_both_heads():
    model = create_model("vggs").eval()
    params = sum(p.numel() for p in model.parameters())
    assert 1.5e6 < params < 3.1e6  # a reduced VGG-S: at most the paper's 12.1 MB in float32
    x = torch.randn(2, 1, 128, 128)
    logits, intensity = model.forward_outputs(x)
    assert logits.shape == intensity.shape == (2, 7)
    assert torch.allclose(model(x), logits)


# -- augmentation ---------------------------------------------------------------------------------------
def test_brightness_blur_samples_the_papers_35_variants():
    policy = BrightnessBlur()
    assert policy.variants == len(BRIGHTNESS_GAINS) + 28 == 35
    faces = torch.rand(35, 1, 32, 32) * 0.6
    out = policy.apply(faces, torch.arange(35))
    for k, gain in enumerate(BRIGHTNESS_GAINS):  # brightness variants: the face times a gain, not blurred
        assert torch.allclose(out[k], (faces[k] * gain).clamp(0, 1), atol=1e-6)
    blurred = out[len(BRIGHTNESS_GAINS):]
    assert all(b.std() < f.std() for b, f in zip(blurred, faces[len(BRIGHTNESS_GAINS):], strict=True))
    assert policy.kernels.shape[-1] == max(BLUR_KERNELS)


def test_brightness_blur_is_reproducible_with_a_seed():
    faces = torch.rand(16, 1, 24, 24)
    torch.manual_seed(3)
    first = BrightnessBlur()(faces)
    torch.manual_seed(3)
    assert torch.equal(first, BrightnessBlur()(faces))


# -- training with derived intensity targets ------------------------------------------------------------
def test_mixup_partners_share_the_subject():
    groups = np.array(["S1", "S2", "S1", "S3", "S2", "S1"])
    partners = mixup_partners(len(groups), groups)
    index = torch.arange(6).repeat(20)
    assert (groups[partners(index).numpy()] == groups[index.numpy()]).all()


def small_faces(count: int, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % classes
    faces = np.stack([cv2.resize(pattern_face(int(k), rng), (128, 128)) for k in labels])
    return faces, labels.astype(np.int64)


def test_vggs_learns_classes_and_intensity(tmp_path):
    scheme = LabelScheme("four", FER7.labels[:4])
    images, labels = small_faces(160, 4, seed=1)
    val_images, val_labels = small_faces(60, 4, seed=2)
    train = FaceDataset(images, labels, scheme, groups=np.array([f"S{i % 8}" for i in range(160)]))
    val = FaceDataset(val_images, val_labels, scheme)
    config = TrainConfig(model="vggs", model_config={**SMALL_VGGS, "dropout": 0.0}, epochs=6, batch_size=32,
                         optimizer="adamw", lr=3e-3, warmup_epochs=0.5, mixup=0.5, device="cpu", seed=0)
    assert config.augment_policy == "brightness-blur"
    summary = Trainer(config, train, val, tmp_path, show_progress=False).fit()
    assert summary["val"]["accuracy"] > 0.7
    intensity = predict_intensity(*load_model(tmp_path / "best.safetensors"), val_images)
    assert ranking_and_calibration(intensity, val_labels, list(scheme.labels))["mean_auc"] > 0.8


# -- intensity metrics ----------------------------------------------------------------------------------
def test_ranking_and_calibration_of_perfect_and_uninformative_intensity():
    y = np.repeat(np.arange(4), 25)
    perfect = ranking_and_calibration(np.eye(4)[y], y, ["a", "b", "c", "d"])
    assert perfect["mean_auc"] == 1.0 and perfect["ece"] == 0.0 and perfect["brier"] == 0.0
    flat = ranking_and_calibration(np.full((100, 4), 0.25), y, ["a", "b", "c", "d"])
    assert flat["mean_auc"] == 0.5 and flat["ece"] == pytest.approx(0.0, abs=1e-9)


def test_blend_pairs_differ_in_emotion_and_share_the_subject():
    y = np.array([0, 1, 2, 0, 1, 2])
    groups = np.array(["A", "A", "A", "B", "B", "B"])
    pairs = blend_pairs(y, groups, 50)
    assert len(pairs) == 50
    assert (y[pairs[:, 0]] != y[pairs[:, 1]]).all() and (groups[pairs[:, 0]] == groups[pairs[:, 1]]).all()


# -- engines and outputs --------------------------------------------------------------------------------
def test_onnx_exports_both_heads_and_agrees_with_torch(vggs_weights, tmp_path):
    torch_engine = TorchEngine(vggs_weights)
    onnx_engine = load_engine(vggs_weights, "onnx")
    faces = np.random.default_rng(0).integers(0, 256, (9, 128, 128), dtype=np.uint8)
    probs_t, intensity_t = torch_engine.predict_with_intensity(faces)
    probs_o, intensity_o = onnx_engine.predict_with_intensity(faces)
    assert onnx_engine.has_intensity and torch_engine.has_intensity
    assert np.abs(probs_o - probs_t).max() <= 1e-4 and np.abs(intensity_o - intensity_t).max() <= 1e-4
    assert ((intensity_o >= 0) & (intensity_o <= 1)).all()


def test_models_without_the_head_report_no_intensity(weights):
    probs, intensity = TorchEngine(weights).predict_with_intensity(np.zeros((2, 48, 48), np.uint8))
    assert probs.shape == (2, 7) and intensity is None


@needs_shared("media", "videos")
def test_analyze_with_vggs_writes_intensity_columns(vggs_weights, tmp_path):
    result = rtfer("analyze", str(CLIP), "--out", str(tmp_path / "out"), "--weights", str(vggs_weights),
                   "--quiet", "--every", "10")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader((tmp_path / "out" / "timeline.csv").open()))
    assert [c for c in rows[0] if c.startswith("i_")] == [f"i_{n}" for n in FER7.labels]
    with_face = [r for r in rows if r["face_found"] == "1"]
    assert with_face and all(0 <= float(r["i_happy"]) <= 1 for r in with_face)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert set(summary["mean_intensity"]) == set(FER7.labels)


@needs_shared("media", "videos")
def test_vggs_video_faces_are_cropped_by_68_landmarks(vggs_weights):
    timeline = analyze_video(CLIP, weights=vggs_weights, every=15, progress=False)
    faces = [r.face for r in timeline.rows if r.face is not None]
    assert faces and all(len(face.landmarks) == 68 for face in faces)
    assert all(r.intensity is not None for r in timeline.rows if r.face is not None)


def test_msfernet_timeline_has_no_intensity_columns(weights, tmp_path):
    frames = [np.full((120, 160, 3), 90, np.uint8)] * 3
    path = tmp_path / "blank.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (160, 120))
    for frame in frames:
        writer.write(frame)
    writer.release()
    timeline = analyze_video(path, weights=weights, progress=False)
    assert not any(c.startswith("i_") for c in timeline.columns)
    assert timeline.summary()["mean_intensity"] is None


# -- landmark-aligned training data ---------------------------------------------------------------------
def test_detector_box_inverts_the_fer_crop():
    x, y, w, h = detector_box(130.0)
    assert w == h == pytest.approx(100.0) and x == pytest.approx(15.0) and y > x


@needs_shared("datasets", "ckplus48")
def test_landmark_alignment_of_a_stored_crop():
    path = next((SHARED / "datasets" / "ckplus48" / "happy").glob("*.png"))
    face = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    aligned = landmark_align_face(face, 128)
    assert aligned.shape == (128, 128) and aligned.dtype == np.uint8 and aligned.std() > 10


# -- CLI ------------------------------------------------------------------------------------------------
def test_cli_trains_and_evaluates_vggs(tmp_path):
    data = write_tree(tmp_path / "d", {"anger": 12, "contempt": 12, "happy": 12}, subjects=4)
    run = tmp_path / "run"
    result = rtfer("train", "--model", "vggs", "--data", str(data), "--epochs", "1", "--batch-size", "12",
                   "--width", "8", "8", "16", "--mixup", "0.5", "--out", str(run))
    assert result.returncode == 0, result.stderr
    meta = json.loads((run / "best.json").read_text())
    assert meta["model"] == "vggs" and meta["training"]["config"]["augment_policy"] == "brightness-blur"
    assert meta["labels"] == list(CKPLUS7.labels)
    result = rtfer("evaluate", "--weights", str(run), "--data", str(data), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert {"auc", "ece", "blends"} <= set(report["intensity"])
    assert report["intensity"]["blends"]["same_subject"] is True


def test_cli_rejects_options_the_model_does_not_take(tmp_path):
    data = write_tree(tmp_path / "d", {"happy": 8, "sad": 8})
    result = rtfer("train", "--model", "vggs", "--data", str(data), "--epochs", "1", "--no-cbam",
                   "--out", str(tmp_path / "run"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "does not take these options" in result.stderr


@needs_shared("media", "videos")
def test_app_shows_intensity_for_models_that_have_it(vggs_weights, tmp_path):
    import struct

    from fastapi.testclient import TestClient

    from rtfer.app.server import create_app

    capture = cv2.VideoCapture(str(CLIP))
    app = create_app(tmp_path / "data", weights=str(vggs_weights))
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:  # a loopback server answers loopback names
        assert client.get("/api/health").json()["intensity"] is True
        sid = client.post("/api/sessions", json={"name": "live"}).json()["id"]
        with client.websocket_connect(f"ws://127.0.0.1:8000/api/sessions/{sid}/live") as ws:
            for i in range(3):
                _, frame = capture.read()
                ws.send_bytes(struct.pack("<d", i / 25) + cv2.imencode(".jpg", frame)[1].tobytes())
                reply = ws.receive_json()
        assert set(reply["intensity"]) == set(FER7.labels) and set(reply["faces"][0]["intensity"]) == set(FER7.labels)
        header = client.get(f"/api/sessions/{sid}/timeline.csv").text.splitlines()[0].split(",")
        assert header[-7:] == [f"i_{n}" for n in FER7.labels]


def test_cv_reports_held_out_intensity(tmp_path):
    data = write_tree(tmp_path / "ck", {"anger": 12, "happy": 12, "surprise": 12}, subjects=6)
    result = rtfer("cv", "--model", "vggs", "--data", str(data), "--folds", "3", "--epochs", "1",
                   "--batch-size", "8", "--width", "8", "8", "16", "--mixup", "0.5", "--out", str(tmp_path / "cv"))
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "cv" / "cv_summary.json").read_text())
    assert {"mean_auc", "ece", "blend_spearman"} <= set(summary["intensity"])
    fold = json.loads((tmp_path / "cv" / "fold1" / "test_report.json").read_text())
    assert fold["intensity"]["blends"]["same_subject"] is True
