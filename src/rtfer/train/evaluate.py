"""Evaluate weights on an emotion-folder tree, in the model's classes or in the three valence groups."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from rtfer.data.labels import to_scheme
from rtfer.data.readers import read_image_folder
from rtfer.errors import RtferError
from rtfer.runtime.predict import predict_probs
from rtfer.runtime.weights import load_model, resolve_weights
from rtfer.taxonomy import ALL_EMOTIONS, VALENCE3, get_scheme, to_groups
from rtfer.train.metrics import classification_report
from rtfer.train.plots import plot_confusion, plot_error_gallery


def evaluate_weights(weights: str, data_dir: str | Path, labels: int | None = None, tta: bool = False,
                     out_dir: str | Path | None = None) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class scores and confusion of ``weights`` on ``data_dir``.

    ``labels=3`` scores the three valence groups (a 7-class model's probabilities are summed into
    groups after removing surprise). Folders of classes the model cannot output are left out and
    counted under ``left_out``. With ``out_dir`` the report, confusion matrix and error gallery are
    written there too.
    """
    model, meta = load_model(weights)
    model_scheme = get_scheme(meta.scheme) if meta.scheme else None
    model_labels = tuple(meta.labels)
    if labels not in (None, 3, 7):
        raise RtferError("--labels must be 7 or 3")
    grouped = labels == 3 and model_labels != VALENCE3.labels
    if labels == 7 and model_labels == VALENCE3.labels:
        raise RtferError("this is a 3-group model; evaluate it with --labels 3")
    target = VALENCE3 if labels == 3 else (model_scheme or get_scheme("fer7"))

    data = read_image_folder(data_dir, scheme=ALL_EMOTIONS, size=meta.input_size, skip_unknown=True)
    data, left_out = to_scheme(data, target)
    probs = predict_probs(model, meta, data.images, tta=tta)
    if grouped:
        probs = to_groups(probs, model_labels)
    report = classification_report(data.labels, probs.argmax(1), list(target.labels))
    report.update(weights=str(weights), weights_file=resolve_weights(weights).name, model=meta.model,
                  data=str(data_dir), left_out=left_out, skipped_files=data.skipped, tta=tta)
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.json").write_text(json.dumps(report, indent=1))
        plot_confusion(report["confusion"], report["labels"], out / "confusion.png",
                       f"{Path(data_dir).name}: accuracy {report['accuracy']:.3f}")
        plot_error_gallery(data.images, data.labels, np.asarray(probs), report["labels"], out / "errors.png")
    return report
