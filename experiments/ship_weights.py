"""Copy a run's selected weights into the package as a shipped model (float16, with metadata).

    python experiments/ship_weights.py RUN_DIR NAME [--note TEXT]

The metadata keeps the run's metrics and the command that trained it, adds the wall-clock time and
epochs from history.csv, and the size of the shipped file.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from rtfer.runtime.weights import load_model, save_weights, shipped_dir


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("name")
    parser.add_argument("--note", default="")
    args = parser.parse_args()
    model, meta = load_model(args.run_dir / "best.safetensors")
    with (args.run_dir / "history.csv").open() as handle:
        history = list(csv.DictReader(handle))
    meta.training["epochs_run"] = len(history)
    meta.training["train_minutes"] = round(sum(float(r["seconds"]) for r in history) / 60, 1)
    meta.training["hardware"] = "2-core AMD EPYC CPU, PyTorch 2.13 (no GPU)"
    if args.note:
        meta.training["note"] = args.note
    path = save_weights(shipped_dir() / f"{args.name}.safetensors", model, meta, half=True)
    print(f"shipped {path} ({path.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
