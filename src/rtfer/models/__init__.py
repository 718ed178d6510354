"""Model registry and architectures; importing this package registers every model."""

from rtfer.models import msfernet as _msfernet  # noqa: F401  (registers "msfernet")
from rtfer.models import vggs as _vggs  # noqa: F401  (registers "vggs")
from rtfer.models.registry import create_model, list_models, model_spec, register_model

__all__ = ["create_model", "list_models", "model_spec", "register_model"]
