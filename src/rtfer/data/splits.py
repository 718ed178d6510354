"""Train/test splits. CK+ must be split by subject: its frames of one sequence are near-duplicates."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from rtfer.errors import DataError

SPLITS = {
    "subject": "subject-independent (no subject on both sides of a fold)",
    "image": "image-level random split (subjects leak across folds; only to compare with papers using it)",
}


def kfold_indices(labels: np.ndarray, folds: int, groups: np.ndarray | None = None,
                  split: str = "subject", seed: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (train_index, test_index) for stratified k-fold.

    ``split="subject"`` keeps every group (subject) on one side and needs ``groups``;
    ``split="image"`` ignores them.
    """
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; choose from {', '.join(SPLITS)}")
    if folds < 2:
        raise DataError("need at least 2 folds")
    placeholder = np.zeros(len(labels))
    if split == "subject":
        if groups is None:
            raise DataError("a subject-independent split needs subject ids (CK+ file names S###_...)")
        if len(np.unique(groups)) < folds:
            raise DataError(f"only {len(np.unique(groups))} subjects for {folds} folds")
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
        yield from splitter.split(placeholder, labels, groups)
    else:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        yield from splitter.split(placeholder, labels)
