"""8-bit ONNX graphs: calibrated export, engine selection and agreement with the float model."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import SHARED, needs_shared, write_tree
from rtfer.errors import RtferError
from rtfer.runtime.engine import TorchEngine, load_engine
from rtfer.runtime.quantize import int8_path


def rtfer(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rtfer", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ})


@pytest.fixture(scope="module")
def quantized(weights, tmp_path_factory):
    """The tiny weights copied to a folder with an 8-bit graph calibrated on generated faces beside them."""
    folder = tmp_path_factory.mktemp("int8")
    copy = folder / weights.name
    shutil.copy(weights, copy)
    shutil.copy(weights.with_suffix(".json"), copy.with_suffix(".json"))
    faces = write_tree(folder / "faces", {"happy": 40, "sad": 40})
    result = rtfer("export", "--weights", str(copy), "--int8", "--calibration", str(faces),
                   "--out", str(int8_path(copy)))
    assert result.returncode == 0, result.stderr
    return copy


def test_auto_prefers_the_8_bit_graph_beside_the_weights(quantized, weights):
    assert load_engine(quantized).backend == "onnx-int8"
    assert load_engine(quantized, "onnx").backend == "onnx"
    assert load_engine(weights).backend == "onnx"  # no 8-bit graph beside these


def test_8_bit_probabilities_follow_the_float_model(quantized):
    faces = np.random.default_rng(0).integers(60, 200, (64, 48, 48), dtype=np.uint8)
    exact = TorchEngine(quantized).predict(faces)
    approx = load_engine(quantized, "onnx-int8").predict(faces)
    assert approx.shape == exact.shape and np.allclose(approx.sum(1), 1, atol=1e-4)
    assert np.abs(approx - exact).mean() < 0.02


def test_missing_8_bit_graph_is_a_clear_error(weights):
    with pytest.raises(RtferError, match="no 8-bit graph"):
        load_engine(weights, "onnx-int8")


@pytest.mark.parametrize(("args", "message"), [
    (["--int8"], "--int8 needs --calibration"), (["--calibration", "x"], "only applies with --int8")])
def test_export_argument_errors(weights, tmp_path, args, message):
    result = rtfer("export", "--weights", str(weights), "--out", str(tmp_path / "m.onnx"), *args)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


@needs_shared("datasets", "fer2013", "val")
def test_shipped_8_bit_graph_keeps_the_accuracy():
    val = str(SHARED / "datasets" / "fer2013" / "val")
    scores = {}
    for backend in ("torch", "onnx-int8"):
        result = rtfer("evaluate", "--weights", "msfernet-fer2013-7", "--data", val, "--json", "--backend", backend)
        assert result.returncode == 0, result.stderr
        scores[backend] = json.loads(result.stdout)["accuracy"]
    assert abs(scores["onnx-int8"] - scores["torch"]) <= 0.005


def test_a_graph_left_beside_retrained_weights_is_not_used(quantized, tmp_path):
    folder = tmp_path / "retrained"
    folder.mkdir()
    for source in (quantized, quantized.with_suffix(".json"), int8_path(quantized)):
        shutil.copy(source, folder / source.name)
    weights = folder / quantized.name
    meta = json.loads(weights.with_suffix(".json").read_text())
    meta["metrics"] = {"retrained": True}
    weights.with_suffix(".json").write_text(json.dumps(meta))
    assert load_engine(weights).backend == "onnx"
    with pytest.raises(RtferError, match="built from other weights"):
        load_engine(weights, "onnx-int8")
