import json

import pytest
import torch

from rtfer.errors import WeightsError
from rtfer.models import create_model
from rtfer.runtime.weights import WeightsMeta, load_meta, load_model, resolve_weights, save_weights


def meta(**overrides):
    base = dict(model="msfernet", config={"num_classes": 7, "widths": [8, 8, 16, 32]},
                labels=["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"], input_size=48,
                mean=0.51, std=0.3, scheme="fer7")
    return WeightsMeta(**{**base, **overrides})


def test_round_trip(tmp_path):
    model = create_model("msfernet", num_classes=7, widths=[8, 8, 16, 32]).eval()
    path = save_weights(tmp_path / "m.safetensors", model, meta())
    assert path.is_file() and (tmp_path / "m.json").is_file()
    loaded, loaded_meta = load_model(path)
    x = torch.randn(2, 1, 48, 48)
    assert torch.equal(model(x), loaded(x))
    assert loaded_meta.labels == meta().labels and loaded_meta.mean == 0.51
    assert json.loads((tmp_path / "m.json").read_text())["format"] == "rtfer-weights"


def test_bad_weights_give_clear_errors(tmp_path):
    with pytest.raises(WeightsError, match="no weights file or shipped model named 'nope'"):
        resolve_weights("nope")
    (tmp_path / "x.safetensors").write_bytes(b"garbage")
    with pytest.raises(WeightsError, match="metadata file x.json is missing"):
        load_model(tmp_path / "x.safetensors")
    (tmp_path / "x.json").write_text(json.dumps(meta().to_json()))
    with pytest.raises(WeightsError, match="not a readable safetensors"):
        load_model(tmp_path / "x.safetensors")
    (tmp_path / "x.pt").write_bytes(b"pickle")
    with pytest.raises(WeightsError, match="must be a .safetensors"):
        resolve_weights(tmp_path / "x.pt")
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(WeightsError, match="not valid JSON"):
        load_meta(tmp_path / "x.safetensors")


def test_tensors_from_another_model_are_rejected(tmp_path):
    save_weights(tmp_path / "m.safetensors", create_model("msfernet", num_classes=3, widths=[8, 8, 16, 32]),
                 meta())
    with pytest.raises(WeightsError, match="do not match"):
        load_model(tmp_path / "m.safetensors")


EXPECTED_SHIPPED = {"msfernet-fer2013-7", "msfernet-fer2013-3", "msfernet-ckplus-7", "vggs-fer2013-7", "vggs-ckplus-7"}


def test_shipped_models_load_by_name_and_fit_the_size_budget():
    from rtfer import load_model as public_load_model
    from rtfer.runtime.weights import shipped_dir, shipped_models

    assert set(shipped_models()) >= EXPECTED_SHIPPED
    for name in shipped_models():
        model, meta = public_load_model(name)
        assert meta.labels and meta.training.get("train_minutes") is not None, name
        assert sum(p.numel() for p in model.parameters()) > 0
    files = list(shipped_dir().glob("*.safetensors")) + list(shipped_dir().glob("*.onnx"))
    assert sum(f.stat().st_size for f in files) <= 25e6  # every shipped model together (issue 3)


def test_onnx_cache_key_follows_the_metadata(weights, tmp_path):
    """Two files with the same tensors but different metadata (e.g. a derived 3-group model) build different
    graphs, so they must not share a cached ONNX file."""
    import shutil

    from rtfer.runtime.engine import onnx_cache_path

    copy = tmp_path / "copy.safetensors"
    shutil.copy(weights, copy)
    shutil.copy(weights.with_suffix(".json"), copy.with_suffix(".json"))
    before = onnx_cache_path(copy)
    data = json.loads(copy.with_suffix(".json").read_text())
    data["config"]["dropout"] = 0.1
    copy.with_suffix(".json").write_text(json.dumps(data))
    assert onnx_cache_path(copy) != before
