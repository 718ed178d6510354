"""Evaluate weights on an emotion-folder tree, in the model's classes or in the three valence groups."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from rtfer.data.aligned import prepare_for_model
from rtfer.data.labels import target_name, to_scheme
from rtfer.data.readers import read_image_folder
from rtfer.errors import RtferError
from rtfer.evaluation.intensity import intensity_report
from rtfer.evaluation.metrics import classification_report
from rtfer.models import model_spec
from rtfer.runtime.engine import Engine, load_engine, softmax
from rtfer.runtime.weights import resolve_weights
from rtfer.taxonomy import ALL_EMOTIONS, VALENCE3, LabelScheme, get_scheme, to_groups


def to_scheme_index(label: int, target: LabelScheme) -> int | None:
    """Index in ``target`` of an ``ALL_EMOTIONS`` label, or ``None`` when the class is left out."""
    mapped = target_name(ALL_EMOTIONS.labels[label], target)
    return None if mapped is None else target.labels.index(mapped)


def engine_probs(engine: Engine, images: np.ndarray, tta: bool = False, batch_size: int = 256) -> np.ndarray:
    """Probabilities for uint8 faces in batches; with ``tta`` from the mean logits of each face and its mirror."""
    out = [np.zeros((0, len(engine.meta.labels)), np.float32)]
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size]
        logits = engine.logits(batch)
        if tta:
            logits = (logits + engine.logits(batch[:, :, ::-1])) / 2
        out.append(softmax(logits.astype(np.float64)).astype(np.float32))
    return np.concatenate(out)


def evaluate_weights(weights: str, data_dir: str | Path, labels: int | None = None, tta: bool = False,
                     out_dir: str | Path | None = None, detect: bool = False, backend: str = "onnx"
                     ) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class scores and confusion of ``weights`` on ``data_dir``.

    ``labels=3`` scores the three valence groups (a 7-class model's probabilities are summed into
    groups after removing surprise). Folders of classes the model cannot output are left out and
    counted under ``left_out``. With ``detect`` the images are whole photos: the largest face in each is
    detected and cropped first, and photos without a face count as errors (listed under ``no_face``).
    Faces are cropped as the model was trained (FER crop or 68-landmark crop); for models with an
    intensity head the report adds ``intensity`` (see :mod:`rtfer.evaluation.intensity`). ``backend``: the
    engine that scores (``onnx``: the float32 graph, default; ``onnx-int8``: the shipped 8-bit graph;
    ``torch``: the PyTorch model, with ``rtfer[train]``).
    With ``out_dir`` the report, confusion matrix and error gallery are written there too.
    """
    engine = load_engine(weights, backend)
    meta = engine.meta
    model_scheme = None
    if meta.scheme:  # a scheme rtfer names, or one of a trainer's own (e.g. four of the emotions)
        try:
            model_scheme = get_scheme(meta.scheme)
        except ValueError:
            model_scheme = LabelScheme(meta.scheme, tuple(meta.labels))
    model_labels = tuple(meta.labels)
    if labels not in (None, 3, 7):
        raise RtferError("--labels must be 7 or 3")
    grouped = labels == 3 and model_labels != VALENCE3.labels
    if labels == 7 and model_labels == VALENCE3.labels:
        raise RtferError("this is a 3-group model; evaluate it with --labels 3")
    target = VALENCE3 if labels == 3 else (model_scheme or get_scheme("fer7"))

    alignment = model_spec(meta.model).alignment
    no_face: list[tuple[str, int]] = []
    if detect:
        from rtfer.faces import FaceDetector, crop_face
        from rtfer.faces.photos import read_photo_folder

        data, no_face = read_photo_folder(
            data_dir, ALL_EMOTIONS, size=meta.input_size, detector=FaceDetector(landmarks=68),
            crop=lambda image, face: crop_face(image, face, meta.input_size, alignment))
    else:
        data = read_image_folder(data_dir, scheme=ALL_EMOTIONS, size=meta.input_size, skip_unknown=True)
        data = prepare_for_model(data, alignment, meta.input_size)
    data, left_out = to_scheme(data, target)
    probs = engine_probs(engine, data.images, tta=tta)
    if grouped:
        probs = to_groups(probs, model_labels)
    y_true, y_pred = data.labels, probs.argmax(1)
    no_face_kept = [(path, to_scheme_index(label, target)) for path, label in no_face]
    no_face_kept = [(path, label) for path, label in no_face_kept if label is not None]
    if no_face_kept:  # a photo without a detected face is a wrong answer (-1 is no class)
        y_true = np.concatenate([y_true, [label for _, label in no_face_kept]])
        y_pred = np.concatenate([y_pred, np.full(len(no_face_kept), -1)])
    report = classification_report(y_true, y_pred, list(target.labels))
    report.update(weights=str(weights), weights_file=resolve_weights(weights).name, model=meta.model, backend=backend,
                  data=str(data_dir), left_out=left_out, skipped_files=data.skipped, tta=tta, detect=detect)
    if detect:
        report["no_face"] = {"count": len(no_face_kept), "files": [path for path, _ in no_face_kept]}
    intensity = intensity_report(engine, data.images, data.labels, list(target.labels), data.groups)
    if intensity is not None:
        report["intensity"] = intensity
    if out_dir is not None:
        from rtfer.evaluation.figures import plot_confusion, plot_error_gallery

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.json").write_text(json.dumps(report, indent=1))
        plot_confusion(report["confusion"], report["labels"], out / "confusion.png",
                       f"{Path(data_dir).name}: accuracy {report['accuracy']:.3f}")
        plot_error_gallery(data.images, data.labels, np.asarray(probs), report["labels"], out / "errors.png")
    return report
