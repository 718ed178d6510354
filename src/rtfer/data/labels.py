"""Re-labelling a dataset into another label scheme (e.g. seven emotions into three valence groups)."""

from __future__ import annotations

import numpy as np

from rtfer.data.readers import FaceDataset
from rtfer.errors import DataError
from rtfer.taxonomy import VALENCE3, LabelScheme, group_of


def target_name(name: str, target: LabelScheme) -> str | None:
    """Where class ``name`` goes in ``target``: itself, its valence group, or ``None`` (left out)."""
    if target.name == VALENCE3.name:
        return group_of(name)
    return name if name in target.labels else None


def to_scheme(dataset: FaceDataset, target: LabelScheme) -> tuple[FaceDataset, dict[str, int]]:
    """The faces of ``dataset`` whose class exists in ``target``, relabelled.

    Returns the new dataset and the number of faces left out per source class, e.g.
    ``{"surprise": 415}`` when mapping FER2013 to the three valence groups.
    """
    if dataset.scheme == target:
        return dataset, {}
    mapping = np.full(len(dataset.scheme), -1, dtype=np.int64)
    for i, name in enumerate(dataset.scheme.labels):
        mapped = target_name(name, target)
        if mapped is not None:
            mapping[i] = target.labels.index(mapped)
    new_labels = mapping[dataset.labels]
    keep = np.flatnonzero(new_labels >= 0)
    left_out = {dataset.scheme.labels[c]: int(n) for c, n in
                enumerate(np.bincount(dataset.labels[new_labels < 0], minlength=len(dataset.scheme))) if n}
    if keep.size == 0:
        raise DataError(f"no faces of {dataset.scheme.name} map to label scheme {target.name}")
    subset = dataset.subset(keep)
    subset.labels = new_labels[keep]
    subset.scheme = target
    return subset, left_out
