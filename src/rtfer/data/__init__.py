"""Datasets decoded once into memory, and the splits used to evaluate on them (``splits`` needs
scikit-learn, a training dependency, so it is imported on first use)."""

from rtfer.data.readers import (
    FaceDataset,
    read_ckplus48,
    read_dataset,
    read_fer2013_csv,
    read_image_folder,
)

__all__ = [
    "SPLITS", "FaceDataset", "kfold_indices", "read_ckplus48", "read_dataset", "read_fer2013_csv",
    "read_image_folder",
]


def __getattr__(name: str):
    if name in ("SPLITS", "kfold_indices"):
        from rtfer.data import splits

        return getattr(splits, name)
    raise AttributeError(f"module 'rtfer.data' has no attribute {name!r}")
