"""Copy a run's selected weights into the package as a shipped model (float16, with metadata).

    python experiments/ship_weights.py RUN_DIR NAME [--note TEXT] [--cv CV_DIR]

The metadata keeps the run's metrics and the command that trained it, adds the wall-clock time and
epochs from history.csv, and, for a model trained on all of a dataset (no held-out data of its own),
the cross-validation estimate of the same recipe (``--cv``: the ``rtfer cv`` output folder).
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from rtfer.runtime.weights import load_model, save_weights, shipped_dir


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("name")
    parser.add_argument("--note", default="")
    parser.add_argument("--cv", type=Path, help="rtfer cv folder of the same recipe")
    args = parser.parse_args()
    model, meta = load_model(args.run_dir / "best.safetensors")
    with (args.run_dir / "history.csv").open() as handle:
        history = list(csv.DictReader(handle))
    meta.training["epochs_run"] = len(history)
    meta.training["train_minutes"] = round(sum(float(r["seconds"]) for r in history) / 60, 1)
    meta.training["hardware"] = "2-core AMD EPYC CPU, PyTorch 2.13 (no GPU)"
    if args.note:
        meta.training["note"] = args.note
    if args.cv:
        summary = json.loads((args.cv / "cv_summary.json").read_text())
        meta.metrics.update(cv_accuracy=summary["accuracy"]["mean"], cv_accuracy_std=summary["accuracy"]["std"],
                            cv_macro_f1=summary["macro_f1"]["mean"], cv_split=summary["split"],
                            cv_folds=summary["folds"])
    path = save_weights(shipped_dir() / f"{args.name}.safetensors", model, meta, half=True)
    print(f"shipped {path} ({path.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
