"""Evaluate weights on an emotion-folder tree, in the model's classes or in the three valence groups."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from rtfer.data.aligned import prepare_for_model
from rtfer.data.labels import target_name, to_scheme
from rtfer.data.readers import FaceDataset, read_image_folder
from rtfer.errors import RtferError
from rtfer.evaluation.intensity import intensity_report
from rtfer.evaluation.metrics import classification_report
from rtfer.models import model_spec
from rtfer.runtime.engine import Engine, load_engine, softmax
from rtfer.runtime.views import test_views, tta_mode
from rtfer.runtime.weights import resolve_weights
from rtfer.taxonomy import ALL_EMOTIONS, VALENCE3, LabelScheme, get_scheme, to_groups


def to_scheme_index(label: int, target: LabelScheme) -> int | None:
    """Index in ``target`` of an ``ALL_EMOTIONS`` label, or ``None`` when the class is left out."""
    mapped = target_name(ALL_EMOTIONS.labels[label], target)
    return None if mapped is None else target.labels.index(mapped)


def engine_probs(engine: Engine, images: np.ndarray, tta: bool | str = False, batch_size: int = 256
                 ) -> np.ndarray:
    """Probabilities for uint8 faces in batches, from the mean logits over the test views ``tta`` names
    (``flip`` or ``True``: the face and its mirror; ``crops``: ten crops, see :mod:`rtfer.runtime.views`)."""
    out = [np.zeros((0, len(engine.meta.labels)), np.float32)]
    for start in range(0, len(images), batch_size):
        views = list(test_views(images[start:start + batch_size], tta))
        logits = np.mean([engine.logits(view) for view in views], axis=0)
        out.append(softmax(logits.astype(np.float64)).astype(np.float32))
    return np.concatenate(out)


def training_copies(data: FaceDataset, data_dir: str | Path, train_dir: str | Path) -> np.ndarray:
    """Mask of the faces of ``data`` (read from ``data_dir``) that are exact or mirrored copies of a face
    in ``train_dir``."""
    from rtfer.data.dedupe import HASH_SIZE, copies_of, training_keys

    if data.images.shape[1] == HASH_SIZE:
        faces = data.images
    else:  # compare at FER2013's own size: read the same files again, unresized
        native = read_image_folder(data_dir, scheme=ALL_EMOTIONS, size=HASH_SIZE, skip_unknown=True)
        where = {path: i for i, path in enumerate(native.paths)}
        faces = native.images[[where[path] for path in data.paths]]
    return copies_of(faces, training_keys(train_dir))


def evaluate_weights(weights: str | list[str], data_dir: str | Path, labels: int | None = None,
                     tta: bool | str = False, out_dir: str | Path | None = None, detect: bool = False,
                     backend: str = "onnx", dedupe_against: str | Path | None = None) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class scores and confusion of ``weights`` on ``data_dir``.

    Several ``weights`` are scored as an ensemble: the mean of their probabilities (same classes and input).
    ``labels=3`` scores the three valence groups (a 7-class model's probabilities are summed into
    groups after removing surprise). Folders of classes the model cannot output are left out and
    counted under ``left_out``. With ``detect`` the images are whole photos: the largest face in each is
    detected and cropped first, and photos without a face count as errors (listed under ``no_face``).
    Faces are cropped as the model was trained (FER crop or 68-landmark crop); for models with an
    intensity head the report adds ``intensity`` (see :mod:`rtfer.evaluation.intensity`). ``backend``: the
    engine that scores (``onnx``: the float32 graph, default; ``onnx-int8``: the shipped 8-bit graph;
    ``torch``: the PyTorch model, with ``rtfer[train]``).
    With ``dedupe_against`` (a training folder) the report adds ``deduplicated``: the same scores on the
    faces that have no exact or mirrored copy there (:mod:`rtfer.data.dedupe`).
    With ``out_dir`` the report, confusion matrix and error gallery are written there too.
    """
    if detect and dedupe_against:
        raise RtferError("--dedupe-against compares face crops; it does not apply to whole photos (--detect)")
    members = [weights] if isinstance(weights, str | Path) else list(weights)
    engines = [load_engine(member, backend) for member in members]
    engine, meta = engines[0], engines[0].meta
    for other, name in zip(engines[1:], members[1:], strict=True):
        if (list(other.meta.labels), other.meta.input_size, model_spec(other.meta.model).alignment) != \
                (list(meta.labels), meta.input_size, model_spec(meta.model).alignment):
            raise RtferError(f"{name} differs from {members[0]} in classes, input size or face crop: "
                             "an ensemble needs them equal")
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
    probs = np.mean([engine_probs(member, data.images, tta=tta) for member in engines], axis=0)
    if grouped:
        probs = to_groups(probs, model_labels)
    y_true, y_pred = data.labels, probs.argmax(1)
    no_face_kept = [(path, to_scheme_index(label, target)) for path, label in no_face]
    no_face_kept = [(path, label) for path, label in no_face_kept if label is not None]
    if no_face_kept:  # a photo without a detected face is a wrong answer (-1 is no class)
        y_true = np.concatenate([y_true, [label for _, label in no_face_kept]])
        y_pred = np.concatenate([y_pred, np.full(len(no_face_kept), -1)])
    report = classification_report(y_true, y_pred, list(target.labels))
    if dedupe_against:
        copies = training_copies(data, data_dir, dedupe_against)
        report["deduplicated"] = {"against": str(dedupe_against), "copies": int(copies.sum()),
                                  **classification_report(y_true[~copies], y_pred[~copies], list(target.labels))}
    report.update(weights="+".join(map(str, members)),
                  weights_file="+".join(resolve_weights(member).name for member in members), model=meta.model,
                  backend=backend, data=str(data_dir), left_out=left_out, skipped_files=data.skipped,
                  tta=tta_mode(tta), detect=detect)
    if detect:
        report["no_face"] = {"count": len(no_face_kept), "files": [path for path, _ in no_face_kept]}
    intensity = (intensity_report(engine, data.images, data.labels, list(target.labels), data.groups)
                 if len(engines) == 1 else None)
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
