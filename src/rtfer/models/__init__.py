"""Model registry and architectures. Light on import: an architecture's module (PyTorch) is imported
when a model is built, so inference can ask what a model expects without PyTorch."""

from rtfer.models.registry import ModelSpec, create_model, list_models, model_spec, register_model

__all__ = ["ModelSpec", "create_model", "list_models", "model_spec", "register_model"]
