"""K-fold cross-validation (subject-independent by default) with a mean +- std summary."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

from rtfer.data.readers import FaceDataset
from rtfer.data.splits import SPLITS, kfold_indices
from rtfer.train.metrics import summarize_folds
from rtfer.train.trainer import TrainConfig, Trainer

log = logging.getLogger(__name__)


def cross_validate(config: TrainConfig, data: FaceDataset, folds: int, out_dir: str | Path,
                   split: str = "subject", data_description: dict[str, Any] | None = None,
                   init_weights: str | None = None) -> dict[str, Any]:
    """Train one model per fold and score it on the held-out fold.

    There is no separate validation set inside a fold, so each fold keeps its last epoch
    (``select="last"``): choosing epochs by the held-out fold would leak it into the result.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fold_config = replace(config, select="last")
    reports = []
    for k, (train_index, test_index) in enumerate(
            kfold_indices(data.labels, folds, data.groups, split=split, seed=config.seed)):
        log.info("fold %d/%d: %d train, %d test faces", k + 1, folds, len(train_index), len(test_index))
        trainer = Trainer(fold_config, data.subset(train_index), data.subset(test_index), out / f"fold{k + 1}",
                          data_description={**(data_description or {}), "fold": k + 1, "split": split},
                          init_weights=init_weights)
        summary = trainer.fit()
        report = summary["val"]
        if data.groups is not None:
            report["test_subjects"] = sorted(set(data.groups[test_index].tolist()))
        reports.append(report)
        (out / f"fold{k + 1}" / "test_report.json").write_text(json.dumps(report, indent=1))
    result = {"split": split, "split_description": SPLITS[split], "model": config.model,
              "supcon": config.supcon, "epochs": config.epochs, **summarize_folds(reports)}
    (out / "cv_summary.json").write_text(json.dumps(result, indent=1))
    log.info("%d-fold %s CV accuracy %.4f +- %.4f", folds, split, result["accuracy"]["mean"],
             result["accuracy"]["std"])
    return result
