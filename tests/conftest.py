"""Shared fixtures: tiny generated face datasets, so tests never need ../shared."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def needs_shared(*parts: str):
    """Skip unless ../shared/<parts> exists (CI has it; a user's fresh clone does not)."""
    path = SHARED.joinpath(*parts)
    return pytest.mark.skipif(not path.exists(), reason=f"needs {path} (shared data, absent here)")


def pattern_face(label: int, rng: np.random.Generator, size: int = 48) -> np.ndarray:
    """A noisy 'face' whose class is visible: bars of an orientation and position set by the label."""
    image = rng.normal(110, 20, (size, size))
    kind = label % 4
    offset = rng.integers(-3, 4)
    if kind == 0:
        image[size // 3 + offset: size // 3 + offset + 6, 6:-6] += 90          # horizontal bar high
    elif kind == 1:
        image[6:-6, size // 3 + offset: size // 3 + offset + 6] += 90          # vertical bar left
    elif kind == 2:
        image[2 * size // 3 + offset: 2 * size // 3 + offset + 6, 6:-6] -= 80  # dark bar low
    else:
        cv2.circle(image, (size // 2 + offset, size // 2), size // 5, 230, -1)
    return np.clip(image, 0, 255).astype(np.uint8)


def write_tree(root: Path, per_class: dict[str, int], seed: int = 0, prefix: str = "img",
               subjects: int | None = None) -> Path:
    """Write <root>/<emotion>/*.png; with ``subjects`` file names start with CK+-style S###_."""
    rng = np.random.default_rng(seed)
    for label, (emotion, count) in enumerate(per_class.items()):
        folder = root / emotion
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            name = f"S{(i % subjects) + 1:03d}_001_{i:08d}.png" if subjects else f"{prefix}_{i:05d}.png"
            cv2.imwrite(str(folder / name), pattern_face(label, rng))
    return root


@pytest.fixture(scope="session")
def _session_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def _isolated_cache(_session_cache, monkeypatch):
    """Dataset and ONNX caches go to a temporary folder shared by the session, never to ~/.cache."""
    monkeypatch.setenv("RTFER_CACHE", str(_session_cache))


@pytest.fixture
def tiny_tree(tmp_path: Path) -> Path:
    """Four FER2013 classes, 40 faces each."""
    return write_tree(tmp_path / "faces", {"angry": 40, "happy": 40, "sad": 40, "surprise": 40})


TINY = {"widths": [8, 8, 16, 32], "head_hidden": 0}
SMALL_VGGS = {"widths": [8, 8, 16], "fc": [32, 16]}


def random_weights(folder: Path, name: str, model: str, config: dict, input_size: int) -> Path:
    """Untrained weights with FER2013 labels, for tests of plumbing rather than accuracy."""
    from rtfer.models import create_model
    from rtfer.runtime.torch_weights import save_weights
    from rtfer.runtime.weights import WeightsMeta
    from rtfer.taxonomy import FER7

    meta = WeightsMeta(model=model, config={"num_classes": 7, **config}, labels=list(FER7.labels),
                       input_size=input_size, scheme="fer7", mean=0.5, std=0.25)
    return save_weights(folder / f"{name}.safetensors", create_model(model, num_classes=7, **config).eval(), meta)


@pytest.fixture(scope="session")
def weights(tmp_path_factory) -> Path:
    """Tiny MSFERNet weights (48x48 FER crops)."""
    return random_weights(tmp_path_factory.mktemp("weights"), "tiny", "msfernet", TINY, 48)


@pytest.fixture(scope="session")
def vggs_weights(tmp_path_factory) -> Path:
    """Tiny VGG-S weights (128x128 landmark crops, with an intensity head)."""
    return random_weights(tmp_path_factory.mktemp("vggs"), "tiny-vggs", "vggs", SMALL_VGGS, 128)
