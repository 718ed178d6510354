"""rtfer: real-time facial emotion recognition (MSFERNet + RT-FER, compact VGG-S).

Entry points (imported on first use, so ``import rtfer`` stays instant):

* ``rtfer.load_model(name_or_path)`` -> (model, metadata): shipped weights by name, or a file.
* ``rtfer.detect_faces(frame)`` -> list of faces with boxes and landmarks.
* ``rtfer.EmotionRecognizer().predict(image)`` -> faces with emotion probabilities, label, valence.
* ``rtfer.analyze_video(path)`` -> ``Timeline`` (CSV, pandas, summary, change points).
"""

from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "load_model": ("rtfer.runtime.torch_weights", "load_model"),
    "shipped_models": ("rtfer.runtime.weights", "shipped_models"),
    "detect_faces": ("rtfer.faces", "detect_faces"),
    "align": ("rtfer.faces", "align"),
    "FaceTracker": ("rtfer.faces", "FaceTracker"),
    "EmotionRecognizer": ("rtfer.runtime.recognizer", "EmotionRecognizer"),
    "analyze_video": ("rtfer.video", "analyze_video"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attribute = _LAZY[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'rtfer' has no attribute {name!r}")
