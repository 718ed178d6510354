"""Weights on disk: a ``.safetensors`` file of tensors plus a ``.json`` file of metadata beside it.

The metadata says everything needed to rebuild and use the model without guessing: model name and
constructor config, label order, input size, normalisation, what data trained it, its metrics and the
command that made it. Nothing is ever unpickled. This module needs no PyTorch (inference runs on
ONNX Runtime); building a PyTorch model from weights is :mod:`rtfer.runtime.torch_weights`.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file

from rtfer.errors import WeightsError

#: The model used when none is named: 7 FER2013 classes, what the app and ``rtfer analyze`` start with.
DEFAULT_MODEL = "msfernet-fer2013-7"

FORMAT = "rtfer-weights"
FORMAT_VERSION = 1


@dataclass
class WeightsMeta:
    """The JSON sidecar of a weights file."""

    model: str
    config: dict[str, Any]
    labels: list[str]
    input_size: int
    in_chans: int = 1
    mean: float = 0.5
    std: float = 0.25
    scheme: str = ""
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    command: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": FORMAT_VERSION, **self.__dict__}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WeightsMeta:
        """Metadata from a sidecar, validated: a sidecar is user input, and its numbers size every buffer
        (an ``input_size`` of 100000 asks for a 10^10-pixel face)."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise WeightsError("metadata is not rtfer weights metadata (missing format: rtfer-weights)")
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        try:
            meta = cls(**known)
        except TypeError as exc:
            raise WeightsError(f"incomplete weights metadata: {exc}") from None
        problem = meta_problem(meta)
        if problem:
            raise WeightsError(f"invalid weights metadata: {problem}")
        return meta


#: Bounds of a sidecar's numbers. The shipped models take 48x48 and 128x128 faces, 1 channel, 7 or 3 classes
#: and layers up to 1024 wide; the bounds leave room for other models, not for absurd buffers.
INPUT_SIZES = (16, 512)
MAX_CLASSES = 100
MAX_WIDTH = 8192  # channels or units of one layer
SCHEMES = ("", "fer7", "ckplus7", "valence3", "all")


def _is_emotion(name: str) -> bool:
    from rtfer.taxonomy import canonical

    try:
        canonical(name)
    except ValueError:
        return False
    return True


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def _config_problem(key: str, value: Any, depth: int = 0) -> str | None:
    """Constructor arguments: flags, finite numbers, names, and (nested) lists of layer sizes or indices."""
    if value is None or isinstance(value, (bool, str)):
        return None
    if _is_int(value):
        low = 1 if key in ("widths", "fc", "num_classes") else 0
        return None if low <= value <= MAX_WIDTH else f"config {key} = {value} is outside [{low}, {MAX_WIDTH}]"
    if isinstance(value, float):
        return None if math.isfinite(value) and abs(value) <= 1e6 else f"config {key} = {value} is not a sane number"
    if isinstance(value, list) and depth < 2 and len(value) <= 64:
        return next((p for p in (_config_problem(key, v, depth + 1) for v in value) if p), None)
    return f"config {key} has an unsupported value {str(value)[:40]}"


def meta_problem(meta: WeightsMeta) -> str | None:
    """What is wrong with ``meta``, or ``None``; the tensors' shapes are checked when they are loaded."""
    labels = meta.labels
    if not isinstance(meta.model, str) or not meta.model:
        return "model must be a model name"
    if not isinstance(meta.config, dict):
        return "config must be an object"
    if not (isinstance(labels, list) and 2 <= len(labels) <= MAX_CLASSES
            and all(isinstance(n, str) and n for n in labels) and len(set(labels)) == len(labels)):
        return f"labels must be 2 to {MAX_CLASSES} distinct names"
    classes = meta.config.get("num_classes", len(labels))
    if classes != len(labels):
        return f"config num_classes = {classes!r} but there are {len(labels)} labels"
    problem = next((p for p in (_config_problem(k, v) for k, v in meta.config.items()) if p), None)
    if problem:
        return problem
    if not (_is_int(meta.input_size) and INPUT_SIZES[0] <= meta.input_size <= INPUT_SIZES[1]):
        return f"input_size must be a whole number of pixels in {list(INPUT_SIZES)}, not {meta.input_size!r}"
    if meta.in_chans not in (1, 3) or isinstance(meta.in_chans, bool):
        return f"in_chans must be 1 or 3, not {meta.in_chans!r}"
    if not (_is_number(meta.mean) and _is_number(meta.std) and meta.std > 0):
        return f"mean must be a finite number and std a positive one (mean {meta.mean!r}, std {meta.std!r})"
    if not isinstance(meta.scheme, str):
        return f"scheme must be a name, not {meta.scheme!r}"
    if meta.scheme not in SCHEMES and not all(_is_emotion(name) for name in labels):
        # a scheme of one's own (e.g. four emotions) is fine as long as every class is an emotion rtfer knows
        return (f"label scheme {meta.scheme!r} is none of {', '.join(s for s in SCHEMES if s)} and its labels "
                "are not all known emotion names")
    if not (isinstance(meta.training, dict) and isinstance(meta.metrics, dict) and isinstance(meta.command, str)):
        return "training and metrics must be objects and command a string"
    return None


def normalise(faces: np.ndarray, mean: float, std: float) -> np.ndarray:
    """uint8 faces (N, H, W) or one face (H, W) to normalised float32 (N, 1, H, W), as the model was trained."""
    faces = np.asarray(faces)
    if faces.ndim == 2:
        faces = faces[None]
    return ((faces.astype(np.float32) / 255.0 - mean) / std)[:, None]


def meta_path(weights_path: Path) -> Path:
    return weights_path.with_suffix(".json")


def weights_digest(weights_path: Path) -> str:
    """SHA-256 of a weights file and its metadata: what identifies the model a derived graph was built from."""
    return hashlib.sha256(weights_path.read_bytes() + meta_path(weights_path).read_bytes()).hexdigest()


def shipped_dir() -> Path:
    return Path(str(resources.files("rtfer") / "weights"))


def shipped_models() -> list[str]:
    """Names of the weights that ship inside the package."""
    return sorted(p.stem for p in shipped_dir().glob("*.safetensors"))


def resolve_weights(name_or_path: str | Path) -> Path:
    """A shipped model name (``msfernet-fer2013-7``) or a path to a ``.safetensors`` file."""
    text = str(name_or_path)
    if text in shipped_models():
        return shipped_dir() / f"{text}.safetensors"
    path = Path(text)
    if path.is_dir() and (path / "best.safetensors").is_file():  # a training run folder
        return path / "best.safetensors"
    if path.suffix == ".safetensors" and path.is_file():
        return path
    if path.is_file():
        raise WeightsError(f"{path}: weights must be a .safetensors file with a .json beside it")
    shipped = ", ".join(shipped_models()) or "none"
    raise WeightsError(f"no weights file or shipped model named {text!r} (shipped models: {shipped})")


def load_meta(name_or_path: str | Path) -> WeightsMeta:
    path = resolve_weights(name_or_path)
    sidecar = meta_path(path)
    if not sidecar.is_file():
        raise WeightsError(f"{path}: metadata file {sidecar.name} is missing")
    try:
        return WeightsMeta.from_json(json.loads(sidecar.read_text()))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise WeightsError(f"{sidecar}: not valid JSON ({exc})") from None


def load_tensors(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a weights file as float32 (shipped files store float16) numpy arrays."""
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, RuntimeError) as exc:
        raise WeightsError(f"{path}: not a readable safetensors file ({exc})") from None
    return {k: v.astype(np.float32) if np.issubdtype(v.dtype, np.floating) else v for k, v in state.items()}
