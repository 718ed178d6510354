"""Datasets decoded once into memory, and the splits used to evaluate on them."""

from rtfer.data.readers import (
    FaceDataset,
    read_ckplus48,
    read_dataset,
    read_fer2013_csv,
    read_image_folder,
)
from rtfer.data.splits import SPLITS, kfold_indices

__all__ = [
    "SPLITS", "FaceDataset", "kfold_indices", "read_ckplus48", "read_dataset", "read_fer2013_csv",
    "read_image_folder",
]
