"""PyTorch models from weights files and back (training, ``--backend torch`` and graph templates need it)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from rtfer.errors import WeightsError
from rtfer.models import create_model
from rtfer.runtime.weights import FORMAT, WeightsMeta, load_meta, meta_path, resolve_weights


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
