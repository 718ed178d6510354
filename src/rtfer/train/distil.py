"""Knowledge distillation from teacher targets stored on disk.

The teachers (an ensemble of trained models) are run once over fixed test views of every training
face (:func:`write_teacher_targets`); their averaged probabilities are stored as safetensors + JSON
beside a fingerprint of the training faces. The student is then trained against them with
:func:`distillation_loss` at no per-step teacher cost. The targets are an estimate for the face, not
for the augmented view the student sees, as in offline distillation generally.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.numpy import load_file, save_file
from tqdm.auto import tqdm

from rtfer.data.readers import FaceDataset
from rtfer.errors import RtferError

log = logging.getLogger(__name__)


def faces_fingerprint(data: FaceDataset) -> str:
    """Identifies a training set's faces, labels and order: targets belong to exactly one."""
    digest = hashlib.blake2b(data.images.tobytes(), digest_size=12)
    digest.update(data.labels.astype(np.int64).tobytes())
    return digest.hexdigest()


def ensemble_probs(weights: list[str], images: np.ndarray, tta: str = "crops", labels: list[str] | None = None,
                   show_progress: bool = True) -> np.ndarray:
    """Mean probabilities of several models (ONNX engines) over the ``tta`` views of each face."""
    from rtfer.evaluation.evaluate import engine_probs
    from rtfer.runtime.engine import load_engine

    if not weights:
        raise RtferError("an ensemble needs at least one model")
    engines = [load_engine(name, "onnx") for name in weights]
    for name, engine in zip(weights, engines, strict=True):
        if labels is not None and list(engine.meta.labels) != list(labels):
            raise RtferError(f"{name} predicts {engine.meta.labels}, not the classes {labels}")
        if engine.meta.input_size != images.shape[1]:
            raise RtferError(f"{name} takes {engine.meta.input_size}-pixel faces, not {images.shape[1]}-pixel "
                             "ones: the members of an ensemble share one input")
    total = np.zeros((len(images), len(engines[0].meta.labels)), np.float64)
    chunk = 2048
    with tqdm(total=len(images) * len(engines), desc="teacher targets", unit="face", leave=False,
              disable=not show_progress) as bar:
        for engine in engines:
            for start in range(0, len(images), chunk):
                total[start:start + chunk] += engine_probs(engine, images[start:start + chunk], tta=tta)
                bar.update(len(images[start:start + chunk]))
    return (total / len(engines)).astype(np.float32)


def write_teacher_targets(weights: list[str], data: FaceDataset, out: str | Path, tta: str = "crops") -> Path:
    """Run the teachers once over ``data`` and store their mean probabilities in ``out`` (.safetensors)."""
    out = Path(out)
    probs = ensemble_probs(weights, data.images, tta, list(data.scheme.labels))
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"teachers": [str(w) for w in weights], "views": tta, "labels": list(data.scheme.labels),
            "faces": len(data), "fingerprint": faces_fingerprint(data),
            "teacher_train_accuracy": float((probs.argmax(1) == data.labels).mean())}
    tmp = out.with_suffix(".tmp")
    save_file({"probs": probs}, str(tmp))
    out.with_suffix(".json").write_text(json.dumps(meta, indent=1))
    tmp.replace(out)
    log.info("teacher targets for %d faces from %d model(s) (%s views), train accuracy %.4f: %s", len(data),
             len(weights), tta, meta["teacher_train_accuracy"], out)
    return out


def load_teacher_targets(path: str | Path, data: FaceDataset) -> torch.Tensor:
    """The stored probabilities (N, C), refused unless they were made for exactly these faces."""
    path = Path(path)
    try:
        meta = json.loads(path.with_suffix(".json").read_text())
        probs = load_file(str(path))["probs"]
    except (OSError, ValueError, KeyError) as exc:
        raise RtferError(f"cannot read teacher targets {path}: {exc}") from None
    if meta.get("fingerprint") != faces_fingerprint(data) or meta.get("labels") != list(data.scheme.labels):
        raise RtferError(f"the teacher targets in {path} were made for other training faces or classes "
                         "(same data, cleaning and --labels as the run that wrote them?)")
    if probs.shape != (len(data), len(data.scheme)):
        raise RtferError(f"teacher targets {path} have shape {probs.shape}, expected {(len(data), len(data.scheme))}")
    return torch.from_numpy(probs)


def distillation_loss(logits: torch.Tensor, teacher_probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """Hinton et al.'s soft-target loss: T^2 x KL(teacher_T || student_T).

    The teacher's stored probabilities are softened by raising them to 1/T and renormalising, which is
    the softmax at temperature T of the teacher's (log-probability) logits.
    """
    teacher = F.log_softmax(teacher_probs.clamp_min(1e-8).log() / temperature, dim=1)
    student = F.log_softmax(logits / temperature, dim=1)
    return F.kl_div(student, teacher, log_target=True, reduction="batchmean") * temperature ** 2
