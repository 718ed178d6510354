import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from rtfer.models import create_model, list_models


def count_params(model):
    return sum(p.numel() for p in model.parameters())


def gflops(model, size=48):
    model.eval()
    with FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 1, size, size))
    return counter.get_total_flops() / 1e9


def test_registry_builds_by_name():
    assert "msfernet" in list_models()
    with pytest.raises(ValueError, match="available: .*msfernet"):
        create_model("resnet9000")


def test_output_shape_and_embedding():
    model = create_model("msfernet", num_classes=7).eval()
    x = torch.randn(3, 1, 48, 48)
    assert model(x).shape == (3, 7)
    assert model.forward_features(x).shape == (3, model.num_features)


def test_parameter_count_matches_the_paper_within_ten_percent():
    assert count_params(create_model("msfernet")) == pytest.approx(2.37e6, rel=0.10)


def test_flops_budget_for_cpu_training():
    assert gflops(create_model("msfernet")) <= 0.3


def test_ablation_variants_are_lighter():
    full = create_model("msfernet")
    no_cbam = create_model("msfernet", cbam=False)
    single = create_model("msfernet", multiscale=False)
    assert count_params(no_cbam) < count_params(full)
    assert count_params(single) < count_params(full)
    assert not any("attention.0" in name for name, _ in no_cbam.named_parameters())
    assert single.stage1.branch5 is None


def test_width_is_configurable():
    small = create_model("msfernet", widths=[8, 8, 16, 32], head_hidden=0, num_classes=3)
    assert small(torch.randn(2, 1, 48, 48)).shape == (2, 3)
    assert count_params(small) < 50_000


def test_derived_group_model_matches_the_group_probabilities():
    """MSFERNet's ``groups`` option pools class logits per valence group: its softmax must equal the group
    probabilities rtfer derives from the 7 class probabilities (surprise removed, the rest renormalised)."""
    from rtfer.taxonomy import FER7, VALENCE3, group_of, to_groups

    base = create_model("msfernet", widths=[8, 8, 16, 32], head_hidden=0).eval()
    groups = [[i for i, label in enumerate(FER7.labels) if group_of(label) == g] for g in VALENCE3.labels]
    derived = create_model("msfernet", widths=[8, 8, 16, 32], head_hidden=0, groups=groups).eval()
    derived.load_state_dict(base.state_dict())
    x = torch.randn(5, 1, 48, 48)
    with torch.no_grad():
        expected = to_groups(torch.softmax(base(x), 1).numpy(), FER7.labels)
        assert torch.allclose(torch.softmax(derived(x), 1), torch.from_numpy(expected), atol=1e-5)


def test_vggnet_stays_within_the_budget_of_the_second_architecture():
    model = create_model("vggnet", num_classes=7).eval()
    assert count_params(model) <= 2.5e6 and gflops(model) <= 0.45
    x = torch.randn(2, 1, 48, 48)
    assert model(x).shape == (2, 7) and model.forward_features(x).shape == (2, model.num_features)
    assert model.class_heads() == [model.head]


def test_vggnet_runs_on_onnx_runtime_as_in_pytorch(tmp_path):
    import numpy as np

    from conftest import random_weights
    from rtfer.runtime.engine import TorchEngine, load_engine

    path = random_weights(tmp_path, "tiny-vggnet", "vggnet", {"widths": [8, 8, 16, 16]}, 48)
    faces = np.random.default_rng(0).integers(0, 256, (4, 48, 48), dtype=np.uint8)
    assert np.abs(load_engine(str(path), "onnx").logits(faces) - TorchEngine(str(path)).logits(faces)).max() <= 1e-4
