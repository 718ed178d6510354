"""Copy a run's selected weights into the package as a shipped model (float16, with metadata).

    python experiments/ship_weights.py RUN_DIR NAME [--note TEXT] [--cv CV_DIR] [--after WEIGHTS_JSON]

The metadata keeps the run's metrics and the command that trained it, adds the wall-clock time and
epochs from history.csv and the machine it ran on, and, for a model trained on all of a dataset (no
held-out data of its own), the cross-validation estimate of the same recipe (``--cv``: the ``rtfer cv``
output folder). A warm restart (``--init-from``) names the metadata of the weights it started from
(``--after``), so the card can state the whole chain of runs and its total compute.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
from pathlib import Path

import torch

from rtfer.runtime.export import export_template
from rtfer.runtime.graphs import graph_key, shipped_graph_dir
from rtfer.runtime.torch_weights import load_model, save_weights
from rtfer.runtime.weights import shipped_dir


def hardware() -> str:
    """The CPU (and GPU) this script runs on, which is where the run was trained."""
    cpu = "unknown CPU"
    if Path("/proc/cpuinfo").is_file():
        names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("model name")]
        cpu = names[0] if names else cpu
    amx = " with AMX" if torch.cpu._is_amx_tile_supported() else ""
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    return f"{os.cpu_count()}-core {cpu}{amx}, PyTorch {torch.__version__.split('+')[0]} ({gpu})"


def ship(run_dir: Path, name: str, note: str = "", cv: Path | None = None, after: Path | None = None) -> Path:
    """Write the run's selected weights as shipped model ``name``; returns the file."""
    model, meta = load_model(run_dir / "best.safetensors")
    with (run_dir / "history.csv").open() as handle:
        history = list(csv.DictReader(handle))
    meta.training["epochs_run"] = len(history)
    meta.training["train_minutes"] = round(sum(float(r["seconds"]) for r in history) / 60, 1)
    meta.training["hardware"] = hardware()
    if after:
        before = json.loads(after.read_text())
        stages = before["training"].get("stages") or [
            {key: before["training"].get(key) for key in ("epochs_run", "train_minutes", "hardware", "note")}
            | {"command": before.get("command"), "val_accuracy": before["metrics"].get("val_accuracy")}]
        meta.training["stages"] = [*stages, {
            "epochs_run": len(history), "train_minutes": meta.training["train_minutes"],
            "hardware": meta.training["hardware"], "command": meta.command,
            "val_accuracy": meta.metrics.get("val_accuracy")}]
        meta.training["total_epochs"] = sum(stage["epochs_run"] for stage in meta.training["stages"])
        meta.training["total_minutes"] = round(sum(stage["train_minutes"] for stage in meta.training["stages"]), 1)
    if note:
        meta.training["note"] = note
    if cv:
        summary = json.loads((cv / "cv_summary.json").read_text())
        meta.metrics.update(cv_accuracy=summary["accuracy"]["mean"], cv_accuracy_std=summary["accuracy"]["std"],
                            cv_macro_f1=summary["macro_f1"]["mean"], cv_split=summary["split"],
                            cv_folds=summary["folds"])
    path = save_weights(shipped_dir() / f"{name}.safetensors", model, meta, half=True)
    export_template(meta, shipped_graph_dir() / f"{graph_key(meta)}.onnx")  # inference without PyTorch
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("name")
    parser.add_argument("--note", default="")
    parser.add_argument("--cv", type=Path, help="rtfer cv folder of the same recipe")
    parser.add_argument("--after", type=Path, metavar="WEIGHTS_JSON",
                        help="metadata of the weights this run warm-started from (--init-from)")
    args = parser.parse_args()
    path = ship(args.run_dir, args.name, args.note, args.cv, args.after)
    print(f"shipped {path} ({path.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
