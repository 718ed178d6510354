"""Batched tensor augmentation for gray faces (runs on the whole batch at once, CPU or GPU).

Random shift/scale/rotation, horizontal flip, brightness/contrast jitter and random erasing:
the usual FER2013 policy. Each call draws fresh parameters per image, so calling it twice on
one batch gives the two views that supervised contrastive learning needs.
"""

from __future__ import annotations

import kornia.augmentation as K
import torch
from torch import nn


def face_augmentation(strength: float = 1.0) -> nn.Module:
    """The training policy; ``strength`` scales every range (0 disables augmentation)."""
    if strength <= 0:
        return nn.Identity()
    s = strength
    return nn.Sequential(
        K.RandomAffine(degrees=10 * s, translate=(0.1 * s, 0.1 * s), scale=(1 - 0.1 * s, 1 + 0.1 * s),
                       padding_mode="reflection", p=1.0),
        K.RandomHorizontalFlip(p=0.5),
        K.ColorJiggle(brightness=0.3 * s, contrast=0.3 * s, p=0.8),
        K.RandomErasing(scale=(0.02, 0.15 * s + 0.02), ratio=(0.3, 3.3), value=0.5, p=0.5 * min(s, 1.0)),
    )


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, H, W) or (B, 1, H, W) to float (B, 1, H, W) in [0, 1]."""
    if images.dim() == 3:
        images = images.unsqueeze(1)
    return images.float().div_(255.0)
