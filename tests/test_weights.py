import json

import pytest
import torch

from rtfer.errors import WeightsError
from rtfer.models import create_model
from rtfer.runtime.torch_weights import load_model, save_weights
from rtfer.runtime.weights import WeightsMeta, load_meta, resolve_weights


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
    files = [f for f in shipped_dir().rglob("*") if f.is_file()]
    assert sum(f.stat().st_size for f in files) <= 25e6  # every shipped model together (issue 3)


def test_graph_key_follows_the_metadata(weights, tmp_path):
    """Two files with the same tensors but a different config (e.g. a derived 3-group model) build different
    graphs, so they must not share a graph template."""
    from rtfer.runtime.graphs import graph_key

    data = json.loads(weights.with_suffix(".json").read_text())
    before = graph_key(WeightsMeta.from_json(data))
    data["config"]["groups"] = [[3], [6], [0, 1, 2, 4]]
    assert graph_key(WeightsMeta.from_json(data)) != before


@pytest.mark.parametrize("name", sorted(EXPECTED_SHIPPED))
def test_every_shipped_model_runs_on_its_shipped_graph_as_in_pytorch(name):
    """The graph bound from the safetensors file gives the PyTorch model's outputs, for every shipped model,
    from a template that ships (so the base install, without PyTorch, runs it)."""
    import numpy as np

    from rtfer.runtime.engine import TorchEngine, load_engine
    from rtfer.runtime.graphs import graph_key, shipped_graph_dir

    reference = TorchEngine(name)
    assert (shipped_graph_dir() / f"{graph_key(reference.meta)}.onnx").is_file()
    engine = load_engine(name, "onnx")
    size = reference.meta.input_size
    faces = np.random.default_rng(1).integers(0, 256, (16, size, size), dtype=np.uint8)
    (probs, intensity), (expected, expected_intensity) = engine.predict_with_intensity(faces), \
        reference.predict_with_intensity(faces)
    assert np.abs(probs - expected).max() <= 1e-4
    assert (intensity is None) == (expected_intensity is None)
    if intensity is not None:
        assert np.abs(intensity - expected_intensity).max() <= 1e-4
    assert np.abs(engine.logits(faces) - reference.logits(faces)).max() <= 1e-4


def _copy_of(name: str, folder):
    import shutil

    from rtfer.runtime.weights import resolve_weights

    source = resolve_weights(name)
    copy = folder / source.name
    shutil.copy(source, copy)
    shutil.copy(source.with_suffix(".json"), copy.with_suffix(".json"))
    return copy


def test_weights_that_do_not_fit_their_graph_are_an_error(tmp_path):
    """Tensors of another shape, a missing tensor or an unexpected one: an error, never a wrong answer."""
    from safetensors.numpy import load_file, save_file

    from rtfer.runtime.engine import load_engine

    copy = _copy_of("msfernet-fer2013-7", tmp_path)
    state = load_file(str(copy))
    save_file({**state, "head.3.weight": state["head.3.weight"][:5]}, str(copy))
    with pytest.raises(WeightsError, match=r"head\.3\.weight has shape \(5, 768\)"):
        load_engine(copy, "onnx")
    save_file({k: v for k, v in state.items() if k != "head.0.bias"}, str(copy))
    with pytest.raises(WeightsError, match=r"missing: head\.0\.bias"):
        load_engine(copy, "onnx")
    save_file({**state, "extra.weight": state["head.0.bias"]}, str(copy))
    with pytest.raises(WeightsError, match="unexpected: extra.weight"):
        load_engine(copy, "onnx")
