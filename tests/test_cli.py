"""The rtfer command: contracts, exit codes and one-line errors on bad input (never a traceback)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import TINY, needs_shared, write_tree
from rtfer.models import create_model
from rtfer.runtime.torch_weights import save_weights
from rtfer.runtime.weights import WeightsMeta
from rtfer.taxonomy import FER7


def rtfer(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rtfer", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **(env or {})}, timeout=300)


def assert_clean_error(result: subprocess.CompletedProcess, message: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert message in result.stderr, result.stderr




@pytest.mark.parametrize("command", ["train", "cv", "teacher-targets", "evaluate", "models"])
def test_every_command_has_help(command):
    result = rtfer(command, "--help")
    assert result.returncode == 0 and "usage: rtfer " + command in result.stdout


def test_evaluate_json_contract(weights, tmp_path):
    data = write_tree(tmp_path / "d", {"angry": 5, "happy": 5, "contempt": 3, "neutral": 4})
    result = rtfer("evaluate", "--weights", str(weights), "--data", str(data), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)  # exactly one JSON object
    assert {"accuracy", "macro_f1", "n", "labels", "per_class", "confusion"} <= set(report)
    assert report["n"] == 14 and report["labels"] == list(FER7.labels)
    assert report["left_out"] == {"contempt": 3}
    assert len(report["confusion"]) == 7 and sum(map(sum, report["confusion"])) == 14
    assert report["per_class"]["happy"]["support"] == 5


def test_evaluate_three_groups_leaves_out_surprise(weights, tmp_path):
    data = write_tree(tmp_path / "d", {"angry": 4, "sad": 4, "happy": 5, "surprise": 6, "neutral": 3})
    result = rtfer("evaluate", "--weights", str(weights), "--data", str(data), "--labels", "3", "--json",
                   "--out", str(tmp_path / "report"))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["labels"] == ["negative", "neutral", "positive"] and report["n"] == 16
    assert report["left_out"] == {"surprise": 6}
    assert [report["per_class"][g]["support"] for g in report["labels"]] == [8, 3, 5]
    assert (tmp_path / "report" / "confusion.png").is_file()


def test_train_cli_writes_a_run(tmp_path):
    data = write_tree(tmp_path / "d", {"happy": 20, "sad": 20})
    result = rtfer("train", "--data", str(data), "--val", str(data), "--epochs", "1", "--batch-size", "16",
                   "--width", "8", "8", "16", "32", "--supcon", "off", "--out", str(tmp_path / "run"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "run" / "best.safetensors").is_file()
    meta = json.loads((tmp_path / "run" / "best.json").read_text())
    assert meta["command"].startswith("rtfer train --data")


@pytest.mark.parametrize(("args", "message"), [
    (["evaluate", "--weights", "no-such-model", "--data", "."], "no weights file or shipped model"),
    (["train", "--data", "/no/such/dir", "--out", "x"], "dataset folder not found"),
    (["cv", "--data", "/no/such/dir", "--out", "x"], "dataset folder not found"),
])
def test_bad_paths(args, message, tmp_path):
    assert_clean_error(rtfer(*args, cwd=tmp_path), message)


def test_bad_data_folder(weights, tmp_path):
    data = write_tree(tmp_path / "d", {"happy": 2})
    (data / "bored").mkdir()
    assert_clean_error(rtfer("evaluate", "--weights", str(weights), "--data", str(data)), "accepted names")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_clean_error(rtfer("evaluate", "--weights", str(weights), "--data", str(empty)), "no images found")


def test_corrupt_weights(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 64)
    assert_clean_error(rtfer("evaluate", "--weights", str(bad), "--data", "."), "metadata file bad.json is missing")


def test_resume_without_checkpoint(tmp_path):
    data = write_tree(tmp_path / "d", {"happy": 4, "sad": 4})
    assert_clean_error(rtfer("train", "--data", str(data), "--resume", "--out", str(tmp_path / "r")),
                       "no checkpoint to resume")


def test_three_group_model_cannot_be_scored_on_seven(tmp_path):
    model = create_model("msfernet", num_classes=3, **TINY)
    meta = WeightsMeta(model="msfernet", config={"num_classes": 3, **TINY},
                       labels=["negative", "neutral", "positive"], input_size=48, scheme="valence3")
    path = save_weights(tmp_path / "three.safetensors", model, meta)
    data = write_tree(tmp_path / "d", {"happy": 2})
    assert_clean_error(rtfer("evaluate", "--weights", str(path), "--data", str(data), "--labels", "7"),
                       "3-group model")


def test_usage_errors_exit_non_zero():
    result = rtfer("train", "--supcon", "maybe")
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_cv_subject_independent(tmp_path):
    data = write_tree(tmp_path / "ck", {"anger": 12, "happy": 12, "surprise": 12}, subjects=6)
    result = rtfer("cv", "--data", str(data), "--folds", "3", "--epochs", "1", "--batch-size", "8",
                   "--width", "8", "8", "16", "32", "--supcon", "off", "--out", str(tmp_path / "cv"))
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "cv" / "cv_summary.json").read_text())
    assert summary["split"] == "subject" and summary["folds"] == 3 and summary["n"] == 36
    subjects = [set(json.loads((tmp_path / "cv" / f"fold{k}" / "test_report.json").read_text())["test_subjects"])
                for k in (1, 2, 3)]
    assert not (subjects[0] & subjects[1]) and not (subjects[1] & subjects[2])


def test_ddp_under_torchrun_world_size_one(tmp_path):
    data = write_tree(tmp_path / "d", {"happy": 16, "sad": 16})
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=1", "--master_port=29517",
                "-m", "rtfer", "train"]
    result = subprocess.run([*torchrun, "--data", str(data), "--val", str(data), "--epochs", "1",
                             "--batch-size", "8", "--width", "8", "8", "16", "32", "--device", "cpu",
                             "--out", str(tmp_path / "ddp")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "rank 0 of 1 (gloo)" in result.stderr
    assert (tmp_path / "ddp" / "best.safetensors").is_file()


@needs_shared("datasets", "fer2013", "val")
def test_evaluate_on_real_fer2013_val(weights):
    from conftest import SHARED

    result = rtfer("evaluate", "--weights", str(weights), "--data", str(SHARED / "datasets/fer2013/val"),
                   "--labels", "3", "--json")
    report = json.loads(result.stdout)
    assert report["n"] == 3589 - 415 and report["left_out"] == {"surprise": 415}


def test_resume_keeps_the_saved_recipe_and_extends_epochs(tmp_path):
    data = write_tree(tmp_path / "d", {"happy": 16, "sad": 16})
    common = ["--data", str(data), "--val", str(data), "--out", str(tmp_path / "run")]
    first = rtfer("train", *common, "--epochs", "1", "--batch-size", "8", "--width", "8", "8", "16", "32",
                  "--supcon", "off", "--lr", "0.01")
    assert first.returncode == 0, first.stderr
    second = rtfer("train", *common, "--resume", "--epochs", "2")
    assert second.returncode == 0, second.stderr
    state = json.loads((tmp_path / "run" / "checkpoint.json").read_text())
    assert state["epoch"] == 2 and state["config"]["lr"] == 0.01 and state["config"]["batch_size"] == 8


@needs_shared("media", "videos")
def test_evaluate_detect_on_whole_photos_counts_missing_faces(weights, tmp_path):
    import cv2
    import numpy as np

    from conftest import SHARED

    capture = cv2.VideoCapture(str(SHARED / "media/videos/liveportrait_driving_d0.mp4"))
    (tmp_path / "photos" / "happy").mkdir(parents=True)
    for i in range(3):
        ok, frame = capture.read()
        assert ok
        cv2.imwrite(str(tmp_path / "photos" / "happy" / f"frame{i}.jpg"), frame)
    cv2.imwrite(str(tmp_path / "photos" / "happy" / "wall.jpg"), np.full((300, 300, 3), 90, np.uint8))
    result = rtfer("evaluate", "--weights", str(weights), "--data", str(tmp_path / "photos"), "--detect", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["n"] == 4 and report["no_face"]["count"] == 1
    assert report["no_face"]["files"][0].endswith("wall.jpg")
    assert report["per_class"]["happy"]["support"] == 4


def test_evaluate_video_rejects_bad_folders(tmp_path):
    (tmp_path / "bored" / "clip1").mkdir(parents=True)
    result = rtfer("evaluate-video", str(tmp_path), "--quiet")
    assert result.returncode == 2 and "unknown emotion name 'bored'" in result.stderr
    (tmp_path / "bored" / "clip1").rmdir()
    (tmp_path / "bored").rmdir()
    result = rtfer("evaluate-video", str(tmp_path), "--quiet")
    assert result.returncode == 2 and "no clips" in result.stderr and "Traceback" not in result.stderr


@needs_shared("media", "videos")
def test_evaluate_video_on_stretches_of_the_shared_clips(tmp_path):
    """A grin and a resting face of one person (frame folders cut from the shared clip d0)."""
    import cv2

    from conftest import SHARED

    capture = cv2.VideoCapture(str(SHARED / "media" / "videos" / "liveportrait_driving_d0.mp4"))
    for index in range(60):
        _, frame = capture.read()
        emotion = "neutral" if index < 17 else "happy" if index >= 28 else None
        if emotion:
            folder = tmp_path / "clips" / emotion / "d0"
            folder.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(folder / f"{index:04d}.png"), frame)
    result = rtfer("evaluate-video", str(tmp_path / "clips"), "--baseline-from", "neutral", "--json", "--quiet")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["n"] == 2 and report["accuracy"] == 1.0 and report["valence_sign_accuracy"] == 1.0
    assert {"labels", "macro_f1", "per_class", "confusion", "jitter_per_s", "false_changes_per_min"} <= set(report)
    happy = next(c for c in report["clips"] if c["emotion"] == "happy")
    assert happy["dominant"] == "happy" and happy["valence"] > 0.5 and happy["valence_corrected"] > 0.5
    assert report["baseline"]["frames"] == 17


def test_ensemble_teacher_targets_and_a_distilled_student(weights, tmp_path):
    train = write_tree(tmp_path / "train", {"happy": 20, "sad": 20}, seed=1)
    val = write_tree(tmp_path / "val", {"happy": 8, "sad": 8}, seed=2)
    targets = tmp_path / "teacher.safetensors"
    result = rtfer("teacher-targets", "--weights", str(weights), str(weights), "--data", str(train),
                   "--out", str(targets))
    assert result.returncode == 0, result.stderr
    meta = json.loads(targets.with_suffix(".json").read_text())
    assert meta["faces"] == 40 and meta["teachers"] == [str(weights)] * 2 and meta["views"] == "flip"
    student = ["train", "--data", str(train), "--val", str(val), "--epochs", "1", "--batch-size", "16",
               "--width", "8", "8", "16", "32", "--teacher", str(targets), "--schedule", "plateau", "--crop", "40",
               "--out", str(tmp_path / "student")]
    result = rtfer(*student)
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "student" / "best.json").read_text())["training"]["config"]["teacher"] == str(targets)
    # targets of other faces are refused in one line
    other = write_tree(tmp_path / "other", {"happy": 20, "sad": 21}, seed=3)
    assert_clean_error(rtfer(*[str(other) if a == str(train) else a for a in student[:-1]], str(tmp_path / "s2")),
                       "were made for other training faces")

    single, pair = (json.loads(rtfer("evaluate", "--weights", *names, "--data", str(val), "--json").stdout)
                    for names in ([str(weights)], [str(weights), str(weights)]))
    assert pair["accuracy"] == single["accuracy"] and pair["weights"] == f"{weights}+{weights}"
    crops = json.loads(rtfer("evaluate", "--weights", str(weights), "--data", str(val), "--tta", "crops",
                             "--dedupe-against", str(train), "--json").stdout)
    assert crops["tta"] == "crops" and crops["deduplicated"]["copies"] == 0 and crops["deduplicated"]["n"] == 16


@pytest.mark.parametrize(("args", "message"), [
    (["teacher-targets", "--weights", "msfernet-fer2013-7", "--data", ".", "--out", "t.npz"],
     "must name a .safetensors"),
    (["evaluate", "--weights", "msfernet-fer2013-7", "vggs-fer2013-7", "--data", "."], "an ensemble needs them equal"),
    (["evaluate", "--weights", "msfernet-fer2013-7", "--data", ".", "--dedupe-against", "/no/such/dir"],
     "dataset folder not found"),
])
def test_bad_ensemble_and_dedupe_arguments(args, message, tmp_path):
    write_tree(tmp_path, {"happy": 2, "sad": 2})
    assert_clean_error(rtfer(*args, cwd=tmp_path), message)
