"""The base install: inference without PyTorch, kornia or scikit-learn, and a clear word where training is asked.

Each test runs rtfer in a fresh interpreter in which the training packages cannot be imported (as on a
base install: an import hook answers "no module named"), so the dev suite, which has them
installed, still sees what a base install sees. `.ci/base-install` checks the same on a real fresh venv.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SHARED, needs_shared, write_tree
from test_video import blank_frames, write_video

TRAINING_ONLY = ("torch", "kornia", "sklearn", "onnxscript", "dask", "distributed", "pyarrow")
CLIP = SHARED / "media" / "videos" / "liveportrait_driving_d0.mp4"

BLOCKED = f"""
import json, sys
class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {TRAINING_ONLY!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, NotInstalled())
from rtfer.video.scoring import SubjectScorer
first_frame = []
score = SubjectScorer.score
def watch(*args, **kwargs):
    if not first_frame:
        first_frame.append([m for m in ("torch", "sklearn", "kornia", "matplotlib") if sys.modules.get(m)])
    return score(*args, **kwargs)
SubjectScorer.score = watch
from rtfer.cli import main
code = main(sys.argv[1:])
print(json.dumps({{"first_frame": first_frame,
                  "loaded": [m for m in ("torch", "sklearn", "kornia") if sys.modules.get(m)]}}))
sys.exit(code)
"""


def without_training(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCKED, *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def loaded(result: subprocess.CompletedProcess) -> dict:
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("args", [["models"], ["models", "--json"]])
def test_listing_needs_no_training_packages(args):
    result = without_training(*args)
    assert result.returncode == 0, result.stderr
    assert loaded(result)["loaded"] == []


def test_help_imports_nothing_heavy():
    code = "import sys; from rtfer.cli import build_parser; build_parser().format_help(); " \
           "print(sorted(m for m in ('torch', 'sklearn', 'kornia', 'matplotlib', 'onnxruntime', 'cv2') " \
           "if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stdout + result.stderr


@pytest.mark.parametrize("weights", ["msfernet-fer2013-7", "vggs-fer2013-7", "msfernet-ckplus-7"])
def test_analyze_reaches_its_first_frame_without_training_packages_or_plots(weights, tmp_path):
    video = write_video(tmp_path / "room.mp4", blank_frames(12))
    result = without_training("analyze", str(video), "--out", str(tmp_path / "out"), "--weights", weights,
                              "--backend", "onnx", "--quiet")
    assert result.returncode == 0, result.stderr
    assert loaded(result) == {"first_frame": [[]], "loaded": []}  # frames were scored, with none of them loaded
    assert (tmp_path / "out" / "timeline.png").is_file()  # drawn after the frames, matplotlib loaded then


@needs_shared("media", "videos")
def test_analyze_a_real_clip_on_the_base_install(tmp_path):
    result = without_training("analyze", str(CLIP), "--out", str(tmp_path / "out"), "--quiet")
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["frames_with_face"] >= 0.9 * summary["frames_processed"] > 0


def test_evaluate_on_the_base_install(tmp_path):
    data = write_tree(tmp_path / "faces", {"happy": 6, "sad": 6})
    result = without_training("evaluate", "--weights", "msfernet-fer2013-7", "--data", str(data), "--json",
                              "--out", str(tmp_path / "report"))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[0])
    assert report["n"] == 12 and report["backend"] == "onnx" and 0 <= report["accuracy"] <= 1
    assert (tmp_path / "report" / "confusion.png").is_file()
    assert loaded(result)["loaded"] == []
    # ten crops, an ensemble and the deduplicated scores need no training extra either
    result = without_training("evaluate", "--weights", "msfernet-fer2013-7", "msfernet-fer2013-7", "--data", str(data),
                              "--tta", "crops", "--dedupe-against", str(data), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[0])
    assert report["tta"] == "crops" and report["deduplicated"]["copies"] == 12
    assert loaded(result)["loaded"] == []


@pytest.mark.parametrize("args", [
    ["train", "--data", "{data}", "--out", "{tmp}/run"],
    ["cv", "--data", "{data}", "--out", "{tmp}/cv"],
    ["teacher-targets", "--weights", "msfernet-fer2013-7", "--data", "{data}", "--out", "{tmp}/t.safetensors"],
    ["evaluate", "--weights", "msfernet-fer2013-7", "--data", "{data}", "--backend", "torch"],
])
def test_training_commands_name_the_extra_they_need(args, tmp_path):
    data = write_tree(tmp_path / "faces", {"happy": 4, "sad": 4})
    result = without_training(*[a.format(data=data, tmp=tmp_path) for a in args])
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and 'pip install "rtfer[train]"' in lines[0] and "Traceback" not in result.stderr


def test_a_configuration_without_a_shipped_graph_names_the_extra(weights, tmp_path):
    """Weights of widths no shipped model has: their graph must be exported once, which needs PyTorch."""
    result = without_training("analyze", str(write_video(tmp_path / "room.mp4", blank_frames(3))),
                              "--out", str(tmp_path / "out"), "--weights", str(weights), "--backend", "onnx",
                              env={"RTFER_CACHE": str(tmp_path / "empty-cache")})  # no template exported before
    assert result.returncode == 2 and "rtfer[train]" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists() or not any(Path(tmp_path / "out").iterdir())


def test_batch_on_the_base_install_names_its_extra(tmp_path):
    video = write_video(tmp_path / "room.mp4", blank_frames(3))
    result = without_training("batch", str(video), "--out", str(tmp_path / "study"))
    assert result.returncode == 2 and 'pip install "rtfer[batch]"' in result.stderr
    assert "Traceback" not in result.stderr
