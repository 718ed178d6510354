"""Inference engines: probabilities for batches of face crops, by ONNX Runtime or PyTorch.

ONNX Runtime is the default and needs no PyTorch: the architecture's graph template is bound to the
safetensors weights at load time (:mod:`rtfer.runtime.graphs`), or the calibrated 8-bit graph that
ships beside the default model is used. ``torch`` runs the PyTorch model (``rtfer[train]``). Models with
an intensity head have it as a second output.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Protocol

import numpy as np

from rtfer.errors import RtferError
from rtfer.runtime.quantize import BUILT_FROM, int8_path
from rtfer.runtime.weights import WeightsMeta, load_meta, normalise, resolve_weights, weights_digest

log = logging.getLogger(__name__)

BACKENDS = ("auto", "onnx", "onnx-int8", "torch")


class Engine(Protocol):
    meta: WeightsMeta
    backend: str
    has_intensity: bool

    def predict(self, faces: np.ndarray) -> np.ndarray:
        """Softmax probabilities (N, K) for uint8 faces (N, H, W) at the model's input size."""
        ...

    def predict_with_intensity(self, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Probabilities and, for models with an intensity head, per-emotion intensities (N, K) in [0, 1]."""
        ...


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits))


class TorchEngine:
    """The PyTorch model itself (needs ``rtfer[train]``): the reference the ONNX graphs are tested against."""

    backend = "torch"

    def __init__(self, weights: str | Path):
        try:
            from rtfer.runtime.predict import has_intensity
            from rtfer.runtime.torch_weights import load_model
        except ImportError:
            raise RtferError('the torch backend needs PyTorch: pip install "rtfer[train]"') from None
        self.model, self.meta = load_model(weights)
        self.has_intensity = has_intensity(self.model)

    def logits(self, faces: np.ndarray) -> np.ndarray:
        from rtfer.runtime.predict import predict_logits

        return predict_logits(self.model, np.asarray(faces), self.meta.mean, self.meta.std)

    def predict(self, faces: np.ndarray) -> np.ndarray:
        return self.predict_with_intensity(faces)[0]

    def predict_with_intensity(self, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        from rtfer.runtime.predict import predict_outputs

        probs, intensity = predict_outputs(self.model, self.meta, np.asarray(faces))
        return probs.astype(np.float32), None if intensity is None else intensity.astype(np.float32)


class OnnxEngine:
    """An ONNX graph (a path, or an ``onnx.ModelProto`` bound in memory) on ONNX Runtime's CPU provider."""

    def __init__(self, graph, meta: WeightsMeta, threads: int | None = None, backend: str = "onnx"):
        import onnxruntime as ort

        self.backend = backend
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or int(os.environ.get("RTFER_THREADS", 0)) or min(os.cpu_count() or 1, 4)
        options.log_severity_level = 3
        source = str(graph) if isinstance(graph, str | Path) else graph.SerializeToString()
        try:
            self.session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # ONNX Runtime raises its own exception types for a graph it cannot load
            raise RtferError(f"ONNX Runtime cannot load the {meta.model} graph: {str(exc)[:300]}") from None
        self.input_name = self.session.get_inputs()[0].name
        self.has_intensity = len(self.session.get_outputs()) > 1
        self.built_from = self.session.get_modelmeta().custom_metadata_map.get(BUILT_FROM, "")
        self.meta = meta
        classes = self.session.get_outputs()[0].shape[-1]
        if isinstance(classes, int) and classes != len(meta.labels):
            raise RtferError(f"the {meta.model} graph has {classes} outputs but the metadata names "
                             f"{len(meta.labels)} labels")

    def run(self, faces: np.ndarray) -> list[np.ndarray]:
        return self.session.run(None, {self.input_name: normalise(faces, self.meta.mean, self.meta.std)})

    def logits(self, faces: np.ndarray) -> np.ndarray:
        if len(faces) == 0:
            return np.zeros((0, len(self.meta.labels)), dtype=np.float32)
        return self.run(faces)[0]

    def predict(self, faces: np.ndarray) -> np.ndarray:
        return self.predict_with_intensity(faces)[0]

    def predict_with_intensity(self, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        empty = np.zeros((0, len(self.meta.labels)), dtype=np.float32)
        if len(faces) == 0:
            return empty, empty if self.has_intensity else None
        outputs = self.run(faces)
        probs = softmax(outputs[0].astype(np.float64)).astype(np.float32)
        intensity = _sigmoid(outputs[1].astype(np.float64)).astype(np.float32) if self.has_intensity else None
        return probs, intensity


def _int8_engine(path: Path, required: bool) -> OnnxEngine | None:
    """The 8-bit graph beside ``path`` if there is one built from these weights (else an error if ``required``)."""
    quantized = int8_path(path)
    if not quantized.is_file():
        if required:
            raise RtferError(f"no 8-bit graph for {path.name}; make one with rtfer export --int8 --calibration DIR "
                             f"--out {quantized}")
        return None
    engine = OnnxEngine(quantized, load_meta(path), backend="onnx-int8")
    if engine.built_from == weights_digest(path):
        return engine
    message = f"{quantized.name} was built from other weights than {path.name}; rebuild it with rtfer export --int8"
    if required:
        raise RtferError(message)
    log.warning("%s; using the float32 graph", message)
    return None


def load_engine(weights: str | Path, backend: str = "auto") -> Engine:
    """An engine for ``weights`` (shipped name or file).

    ``auto``: the 8-bit ONNX graph when one ships beside the weights (``<name>.int8.onnx``), else the
    float32 graph bound to the weights. ``onnx``: float32 ONNX. ``onnx-int8``: the 8-bit graph (an error
    when there is none). ``torch``: PyTorch.
    """
    if backend not in BACKENDS:
        raise RtferError(f"unknown inference backend {backend!r}; choose from {', '.join(BACKENDS)}")
    path = resolve_weights(weights)
    if backend == "torch":
        return TorchEngine(path)
    if backend in ("auto", "onnx-int8"):
        engine = _int8_engine(path, required=backend == "onnx-int8")
        if engine is not None:
            return engine
    from rtfer.runtime.graphs import bind, template_path

    meta = load_meta(path)
    return OnnxEngine(bind(template_path(meta), path), meta)
