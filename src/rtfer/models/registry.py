"""Build models by name, as timm does: ``create_model("msfernet", num_classes=7)``.

What a model expects as input is known without PyTorch (inference needs it; it runs on ONNX Runtime),
so each architecture is declared here with the module that builds it, and that module, which needs
PyTorch, is imported only when a model is built.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ModelSpec:
    """What a registered model expects as input, and how its training faces are prepared.

    ``alignment``: ``fer`` (the loose eye-levelled square of FER2013) or ``landmarks68`` (the
    68-landmark crop of arXiv 2504.03010). ``augment``: the default training augmentation policy.
    ``module``: where its builder lives (registered there with :func:`register_model`).
    """

    name: str
    module: str
    input_size: int
    in_chans: int = 1
    alignment: str = "fer"
    augment: str = "fer"


_SPECS: dict[str, ModelSpec] = {spec.name: spec for spec in (
    ModelSpec("msfernet", "rtfer.models.msfernet", input_size=48),
    ModelSpec("vggnet", "rtfer.models.vggnet", input_size=48),
    ModelSpec("vggs", "rtfer.models.vggs", input_size=128, alignment="landmarks68", augment="brightness-blur"),
)}
_BUILDERS: dict[str, Callable[..., Any]] = {}


def register_model(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator registering the factory of the architecture ``name`` (declared in ``_SPECS``)."""
    model_spec(name)

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        _BUILDERS[name] = fn
        return fn

    return wrap


def list_models() -> list[str]:
    return sorted(_SPECS)


def model_spec(name: str) -> ModelSpec:
    try:
        return _SPECS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(list_models())}") from None


def create_model(name: str, **config: Any) -> Any:
    """Build a registered model (a ``torch.nn.Module``); ``config`` goes to its constructor."""
    spec = model_spec(name)
    importlib.import_module(spec.module)
    if "widths" in config:
        config["widths"] = tuple(config["widths"])
    return _BUILDERS[name](**config)
