"""K-fold cross-validation (subject-independent by default) with a mean +- std summary."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from rtfer.data.readers import FaceDataset
from rtfer.data.splits import SPLITS, kfold_indices
from rtfer.evaluation.intensity import intensity_report
from rtfer.evaluation.metrics import summarize_folds
from rtfer.runtime.engine import TorchEngine
from rtfer.train.trainer import TrainConfig, Trainer

log = logging.getLogger(__name__)


def cross_validate(config: TrainConfig, data: FaceDataset, folds: int, out_dir: str | Path,
                   split: str = "subject", data_description: dict[str, Any] | None = None,
                   init_weights: str | None = None) -> dict[str, Any]:
    """Train one model per fold and score it on the held-out fold.

    There is no separate validation set inside a fold, so each fold keeps its last epoch
    (``select="last"``): choosing epochs by the held-out fold would leak it into the result. For models
    with an intensity head each fold's report also holds the intensity checks on its held-out faces
    (same-subject blends where subjects are known), averaged under ``intensity`` in the summary.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fold_config = replace(config, select="last")
    reports = []
    for k, (train_index, test_index) in enumerate(
            kfold_indices(data.labels, folds, data.groups, split=split, seed=config.seed)):
        log.info("fold %d/%d: %d train, %d test faces", k + 1, folds, len(train_index), len(test_index))
        test = data.subset(test_index)
        trainer = Trainer(fold_config, data.subset(train_index), test, out / f"fold{k + 1}",
                          data_description={**(data_description or {}), "fold": k + 1, "split": split},
                          init_weights=init_weights)
        summary = trainer.fit()
        report = summary["val"]
        if data.groups is not None:
            report["test_subjects"] = sorted(set(data.groups[test_index].tolist()))
        engine = TorchEngine(out / f"fold{k + 1}" / "best.safetensors")
        intensity = intensity_report(engine, test.images, test.labels, list(test.scheme.labels), test.groups)
        if intensity is not None:  # held-out intensity checks for models with the head
            report["intensity"] = intensity
        reports.append(report)
        (out / f"fold{k + 1}" / "test_report.json").write_text(json.dumps(report, indent=1))
    result = {"split": split, "split_description": SPLITS[split], "model": config.model,
              "supcon": config.supcon, "epochs": config.epochs, **summarize_folds(reports)}
    if all("intensity" in r for r in reports):
        per_fold = [r["intensity"] for r in reports]
        result["intensity"] = {
            "mean_auc": float(np.mean([i["mean_auc"] for i in per_fold])),
            "ece": float(np.mean([i["ece"] for i in per_fold])),
            "brier": float(np.mean([i["brier"] for i in per_fold])),
            "blend_spearman": float(np.nanmean([i["blends"]["mean_spearman"] for i in per_fold])),
            "blend_monotonic_share": float(np.mean([i["blends"]["monotonic_share"] for i in per_fold])),
        }
    (out / "cv_summary.json").write_text(json.dumps(result, indent=1))
    log.info("%d-fold %s CV accuracy %.4f +- %.4f", folds, split, result["accuracy"]["mean"],
             result["accuracy"]["std"])
    return result
