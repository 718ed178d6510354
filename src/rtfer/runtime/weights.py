"""Weights on disk: a ``.safetensors`` file of tensors plus a ``.json`` file of metadata beside it.

The metadata says everything needed to rebuild and use the model without guessing: model name and
constructor config, label order, input size, normalisation, what data trained it, its metrics and the
command that made it. Nothing is ever unpickled.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from rtfer.errors import WeightsError
from rtfer.models import create_model

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
        if data.get("format") != FORMAT:
            raise WeightsError("metadata is not rtfer weights metadata (missing format: rtfer-weights)")
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        try:
            return cls(**known)
        except TypeError as exc:
            raise WeightsError(f"incomplete weights metadata: {exc}") from None


def meta_path(weights_path: Path) -> Path:
    return weights_path.with_suffix(".json")


def save_weights(path: str | Path, model: nn.Module, meta: WeightsMeta, half: bool = False) -> Path:
    """Write ``path`` (.safetensors) and its ``.json`` metadata; returns the weights path.

    ``half`` stores floating-point tensors as float16 (shipped weights: half the size, and the
    probabilities move by about 1e-3); loading always gives a float32 model.
    """
    path = Path(path).with_suffix(".safetensors")
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu().contiguous()
             for k, v in model.state_dict().items()}
    tmp = path.with_suffix(".tmp")
    save_file(state, str(tmp), metadata={"format": FORMAT, "model": meta.model})
    tmp.replace(path)
    meta_path(path).write_text(json.dumps(meta.to_json(), indent=2) + "\n")
    return path


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


def load_model(name_or_path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, WeightsMeta]:
    """Rebuild the model from metadata and load its tensors; returns (model in eval mode, metadata)."""
    path = resolve_weights(name_or_path)
    meta = load_meta(path)
    try:
        model = create_model(meta.model, **meta.config)
    except (ValueError, TypeError) as exc:
        raise WeightsError(f"{path}: cannot build model from metadata: {exc}") from None
    try:
        state = load_file(str(path), device=str(device))
    except (SafetensorError, OSError, RuntimeError) as exc:
        raise WeightsError(f"{path}: not a readable safetensors file ({exc})") from None
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise WeightsError(f"{path}: tensors do not match model {meta.model}: {str(exc)[:300]}") from None
    return model.to(device).eval(), meta
