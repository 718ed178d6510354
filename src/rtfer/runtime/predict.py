"""Class probabilities for batches of face crops with a loaded PyTorch model (training and ``--backend torch``)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from rtfer.runtime.views import test_views
from rtfer.runtime.weights import WeightsMeta, normalise


def has_intensity(model: nn.Module) -> bool:
    """Whether the model has a per-emotion intensity head (``forward_outputs`` gives both heads)."""
    return bool(getattr(model, "has_intensity", False))


@torch.inference_mode()
def predict_logits(model: nn.Module, images: np.ndarray, mean: float, std: float, batch_size: int = 256,
                   tta: bool | str = False, device: str | torch.device = "cpu") -> np.ndarray:
    """Logits for uint8 faces; with ``tta`` the mean over its test views (:mod:`rtfer.runtime.views`)."""
    model.eval()
    out = []
    for start in range(0, len(images), batch_size):
        views = [torch.from_numpy(normalise(view, mean, std)).to(device)
                 for view in test_views(images[start:start + batch_size], tta)]
        out.append(torch.stack([model(view).float() for view in views]).mean(0).cpu())
    return torch.cat(out).numpy() if out else np.zeros((0, 0), dtype=np.float32)


def predict_probs(model: nn.Module, meta: WeightsMeta, images: np.ndarray, tta: bool = False,
                  batch_size: int = 256) -> np.ndarray:
    """Softmax probabilities (N, len(meta.labels)) for uint8 faces at the model's input size."""
    if not len(images):
        return np.zeros((0, len(meta.labels)), np.float32)
    logits = predict_logits(model, images, meta.mean, meta.std, batch_size=batch_size, tta=tta)
    return torch.softmax(torch.from_numpy(logits), dim=1).numpy()


@torch.inference_mode()
def predict_outputs(model: nn.Module, meta: WeightsMeta, images: np.ndarray, batch_size: int = 256
                    ) -> tuple[np.ndarray, np.ndarray | None]:
    """Softmax probabilities and, for a model with an intensity head, intensities in [0, 1] (one pass)."""
    if not has_intensity(model):
        return predict_probs(model, meta, images, batch_size=batch_size), None
    model.eval()
    probs, levels = [], []
    for start in range(0, len(images), batch_size):
        logits, intensity = model.forward_outputs(torch.from_numpy(
            normalise(images[start:start + batch_size], meta.mean, meta.std)))
        probs.append(torch.softmax(logits.float(), dim=1))
        levels.append(torch.sigmoid(intensity.float()))
    classes = len(meta.labels)
    if not probs:
        return np.zeros((0, classes), np.float32), np.zeros((0, classes), np.float32)
    return torch.cat(probs).numpy(), torch.cat(levels).numpy()


def predict_intensity(model: nn.Module, meta: WeightsMeta, images: np.ndarray) -> np.ndarray | None:
    """Per-emotion intensities in [0, 1] (N, len(meta.labels)), or ``None`` for a model without the head."""
    return predict_outputs(model, meta, images)[1]
