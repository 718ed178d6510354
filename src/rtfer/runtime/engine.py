"""Inference engines: probabilities for batches of face crops, by ONNX Runtime or PyTorch.

ONNX Runtime is the default: faster at small batches on CPU (the live case). The ONNX graph is
exported from the safetensors weights on first use and cached under ``~/.cache/rtfer/onnx`` keyed
by the weights' content hash; PyTorch is the fallback when ONNX Runtime or the exporter is missing.
Models with an intensity head export it as a second output.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import nn

from rtfer.errors import RtferError
from rtfer.runtime.predict import has_intensity, normalise, predict_outputs
from rtfer.runtime.quantize import BUILT_FROM, int8_path
from rtfer.runtime.weights import WeightsMeta, load_meta, load_model, resolve_weights, weights_digest

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


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits))


class TorchEngine:
    backend = "torch"

    def __init__(self, weights: str | Path):
        self.model, self.meta = load_model(weights)
        self.has_intensity = has_intensity(self.model)

    def predict(self, faces: np.ndarray) -> np.ndarray:
        return self.predict_with_intensity(faces)[0]

    def predict_with_intensity(self, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        probs, intensity = predict_outputs(self.model, self.meta, np.asarray(faces))
        return probs.astype(np.float32), None if intensity is None else intensity.astype(np.float32)


class OnnxEngine:
    def __init__(self, onnx_path: Path, meta: WeightsMeta, threads: int | None = None, backend: str = "onnx"):
        self.backend = backend
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or min(os.cpu_count() or 1, 4)
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.has_intensity = len(self.session.get_outputs()) > 1
        self.built_from = self.session.get_modelmeta().custom_metadata_map.get(BUILT_FROM, "")
        self.meta = meta

    def predict(self, faces: np.ndarray) -> np.ndarray:
        return self.predict_with_intensity(faces)[0]

    def predict_with_intensity(self, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        empty = np.zeros((0, len(self.meta.labels)), dtype=np.float32)
        if len(faces) == 0:
            return empty, empty if self.has_intensity else None
        outputs = self.session.run(None, {self.input_name: normalise(faces, self.meta.mean, self.meta.std)})
        probs = _softmax(outputs[0].astype(np.float64)).astype(np.float32)
        intensity = _sigmoid(outputs[1].astype(np.float64)).astype(np.float32) if self.has_intensity else None
        return probs, intensity


class BothHeads(nn.Module):
    """Exports a model's class and intensity logits as two graph outputs."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model.forward_outputs(x)


def onnx_cache_path(weights_path: Path) -> Path:
    """The cached graph of a weights file, keyed by its tensors and its metadata (which builds the model)."""
    from rtfer.data.readers import default_cache_dir

    return default_cache_dir() / "onnx" / f"{weights_path.stem}-{weights_digest(weights_path)[:16]}.onnx"


def export_onnx(weights: str | Path, out: str | Path) -> Path:
    """Export weights to a single-file ONNX graph with a dynamic batch dimension."""
    model, meta = load_model(weights)
    outputs = ["logits", "intensity"] if has_intensity(model) else ["logits"]
    graph = BothHeads(model).eval() if has_intensity(model) else model
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    example = torch.zeros(2, meta.in_chans, meta.input_size, meta.input_size)
    batch = torch.export.Dim("batch", min=1, max=65536)
    tmp = out.with_suffix(".tmp.onnx")
    for name in ("onnx_ir", "onnxscript", "torch.onnx"):  # the exporter narrates every pass at INFO
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():  # the exporter's deprecation chatter is not the user's concern
            warnings.simplefilter("ignore", FutureWarning)
            program = torch.onnx.export(graph, (example,), input_names=["faces"], output_names=outputs,
                                        dynamic_shapes=({0: batch},), dynamo=True, verbose=False)
        program.save(str(tmp), external_data=False)
    except ImportError as exc:
        raise RtferError(f"ONNX export needs the onnx and onnxscript packages ({exc})") from None
    tmp.replace(out)
    return out


def load_engine(weights: str | Path, backend: str = "auto") -> Engine:
    """An engine for ``weights`` (shipped name or file).

    ``auto``: the 8-bit ONNX graph when one ships beside the weights (``<name>.int8.onnx``), else the
    float32 ONNX graph, else PyTorch. ``onnx``: float32 ONNX. ``onnx-int8``: the 8-bit graph (an error
    when there is none). ``torch``: PyTorch.
    """
    if backend not in BACKENDS:
        raise RtferError(f"unknown inference backend {backend!r}; choose from {', '.join(BACKENDS)}")
    path = resolve_weights(weights)
    if backend in ("auto", "onnx-int8"):
        quantized = int8_path(path)
        if quantized.is_file():
            try:
                engine = OnnxEngine(quantized, load_meta(path), backend="onnx-int8")
            except ImportError as exc:
                if backend == "onnx-int8":
                    raise RtferError(f"ONNX Runtime engine unavailable: {exc}") from None
            else:
                if engine.built_from == weights_digest(path):
                    return engine
                message = (f"{quantized.name} was built from other weights than {path.name}; "
                           "rebuild it with rtfer export --int8")
                if backend == "onnx-int8":
                    raise RtferError(message)
                log.warning("%s; using the float32 graph", message)
        elif backend == "onnx-int8":
            raise RtferError(f"no 8-bit graph for {path.name}; make one with rtfer export --int8 --calibration DIR "
                             f"--out {quantized}")
    if backend in ("auto", "onnx"):
        try:
            onnx_path = onnx_cache_path(path)
            if not onnx_path.is_file():
                log.info("exporting %s to ONNX (once): %s", path.name, onnx_path)
                export_onnx(path, onnx_path)
            return OnnxEngine(onnx_path, load_meta(path))
        except (ImportError, RtferError, OSError) as exc:
            if backend == "onnx":
                raise RtferError(f"ONNX Runtime engine unavailable: {exc}") from None
            log.warning("ONNX Runtime unavailable (%s); using PyTorch", exc)
    return TorchEngine(path)
