"""Build models by name, as timm does: ``create_model("msfernet", num_classes=7)``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn


@dataclass(frozen=True)
class ModelSpec:
    """What a registered model expects as input, and how its training faces are prepared.

    ``alignment``: ``fer`` (the loose eye-levelled square of FER2013) or ``landmarks68`` (the
    68-landmark crop of arXiv 2504.03010). ``augment``: the default training augmentation policy.
    """

    name: str
    build: Callable[..., nn.Module]
    input_size: int
    in_chans: int
    alignment: str = "fer"
    augment: str = "fer"


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(name: str, *, input_size: int, in_chans: int, alignment: str = "fer", augment: str = "fer"):
    """Decorator registering a model factory under ``name``."""

    def wrap(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        _REGISTRY[name] = ModelSpec(name, fn, input_size, in_chans, alignment, augment)
        return fn

    return wrap


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def model_spec(name: str) -> ModelSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(list_models())}") from None


def create_model(name: str, **config) -> nn.Module:
    """Build a registered model; ``config`` goes to its constructor (num_classes, widths, ...)."""
    if "widths" in config:
        config["widths"] = tuple(config["widths"])
    return model_spec(name).build(**config)
