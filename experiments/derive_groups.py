"""Ship a 3-group model derived from a 7-class one, or the run trained on the 3 groups
(``--compared-with``) when that one scores higher on val (issue 3: "trained as 3-class or derived,
whichever scores higher on val").

    python experiments/derive_groups.py msfernet-fer2013-7 msfernet-fer2013-3 \
        --val ../shared/datasets/fer2013/val [--compared-with RUN_DIR]

The derived model is the 7-class network whose output layer pools class logits per valence group with
log-sum-exp (MSFERNet's ``groups`` option): a softmax over the pooled logits is exactly the group
probability that rtfer computes from 7-class probabilities (surprise removed, the rest renormalised), so
the shipped 3-group model and ``--labels 3`` on the 7-class model agree to float precision.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from ship_weights import ship

from rtfer.evaluation.evaluate import evaluate_weights
from rtfer.models import create_model
from rtfer.runtime.torch_weights import load_model, save_weights
from rtfer.runtime.weights import shipped_dir
from rtfer.taxonomy import VALENCE3, group_of


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("source")
    parser.add_argument("name")
    parser.add_argument("--val", help="validation folder to record the derived model's 3-group accuracy")
    parser.add_argument("--compared-with", type=Path, help="the run trained on the 3 groups (its summary.json)")
    args = parser.parse_args()
    model, meta = load_model(args.source)
    groups = [[i for i, label in enumerate(meta.labels) if group_of(label) == group] for group in VALENCE3.labels]
    derived = create_model(meta.model, **{**meta.config, "groups": groups})
    derived.load_state_dict(model.state_dict())
    meta.config = {**meta.config, "groups": groups}
    meta.labels, meta.scheme = list(VALENCE3.labels), VALENCE3.name
    meta.training["derived_from"] = args.source
    meta.training["note"] = ("3 valence groups derived from the 7-class model by log-sum-exp pooling of class "
                             "logits per group (surprise excluded)")
    meta.metrics = {"derived_from_metrics": meta.metrics}
    if args.compared_with:
        trained = json.loads((args.compared_with / "summary.json").read_text())
        meta.training["trained_3_group_val_accuracy"] = trained["val"]["accuracy"]
    shipped = shipped_dir() / f"{args.name}.safetensors"
    if args.val:
        with tempfile.TemporaryDirectory() as tmp:  # score the float16 file exactly as it would ship
            report = evaluate_weights(str(save_weights(Path(tmp) / shipped.name, derived, meta, half=True)),
                                      args.val, labels=3)
        meta.metrics.update(val_accuracy=report["accuracy"], val_macro_f1=report["macro_f1"], val_data=args.val)
    if args.compared_with and args.val and trained["val"]["accuracy"] > meta.metrics["val_accuracy"]:
        # the issue asks for whichever scores higher on val: here the model trained on the groups
        path = ship(args.compared_with, args.name, note=(
            f"trained on the 3 groups; the groups derived from {args.source} scored "
            f"{meta.metrics['val_accuracy']:.4f} on val"))
        print(f"the trained model is higher on val ({trained['val']['accuracy']:.4f} > "
              f"{meta.metrics['val_accuracy']:.4f}): shipped it instead")
    else:
        path = save_weights(shipped, derived, meta, half=True)
    print(f"shipped {path} ({path.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
