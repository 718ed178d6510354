"""Test-time views: the mirror image and the ten crops (``--tta crops``)."""

from __future__ import annotations

import numpy as np
import pytest

from rtfer.evaluation.evaluate import engine_probs
from rtfer.runtime.engine import load_engine
from rtfer.runtime.views import test_views as views
from rtfer.runtime.views import view_count


def faces(count: int = 3) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (count, 48, 48), dtype=np.uint8)


def test_ten_crops_are_corners_and_centre_with_their_mirrors():
    images = faces()
    crops = list(views(images, "crops"))
    assert len(crops) == view_count("crops") == 10 and all(c.shape == images.shape for c in crops)
    for plain, mirrored in zip(crops[::2], crops[1::2], strict=True):
        assert np.array_equal(mirrored, plain[:, :, ::-1])
    assert len({c.tobytes() for c in crops}) == 10
    flat = np.full((1, 48, 48), 77, np.uint8)
    assert all((c == 77).all() for c in views(flat, "crops"))


def test_flip_and_none_keep_their_meaning():
    images = faces()
    assert [v.tolist() for v in views(images, True)] == [images.tolist(), images[:, :, ::-1].tolist()]
    assert len(list(views(images, False))) == 1 and len(list(views(images, "none"))) == 1
    with pytest.raises(ValueError, match="one of"):
        list(views(images, "five"))


def test_every_mode_gives_probabilities(weights):
    engine = load_engine(str(weights), "onnx")
    images = faces(5)
    by_mode = {mode: engine_probs(engine, images, tta=mode) for mode in ("none", "flip", "crops")}
    for probs in by_mode.values():
        assert probs.shape == (5, 7) and np.allclose(probs.sum(1), 1, atol=1e-5)
    logits = (engine.logits(images) + engine.logits(images[:, :, ::-1])) / 2
    expected = np.exp(logits - logits.max(1, keepdims=True))
    assert np.allclose(by_mode["flip"], expected / expected.sum(1, keepdims=True), atol=1e-5)
    assert not np.allclose(by_mode["crops"], by_mode["none"], atol=1e-4)
