"""Batched tensor augmentation for gray faces (runs on the whole batch at once, CPU or GPU).

Two policies, named in the model registry and by ``--augment-policy``:

* ``fer``: random shift/scale/rotation, horizontal flip, brightness/contrast jitter and random
  erasing, the usual FER2013 policy (MSFERNet).
* ``brightness-blur``: the policy of arXiv 2504.03010 (VGG-S), see :class:`BrightnessBlur`.

Each call draws fresh parameters per image from torch's seeded generator, so runs are reproducible
and calling it twice on one batch gives the two views that supervised contrastive learning needs.
"""

from __future__ import annotations

import kornia.augmentation as K
import torch
import torch.nn.functional as F
from torch import nn

from rtfer.train import AUGMENT_POLICIES

BRIGHTNESS_GAINS = (0.55, 0.7, 0.85, 1.0, 1.15, 1.3, 1.45)
BLUR_KERNELS = (3, 5, 7, 9)
BLUR_SIGMAS = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5)


def _gaussian_kernel(size: int, sigma: float, pad_to: int) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    line = torch.exp(-x ** 2 / (2 * sigma ** 2))
    kernel = torch.outer(line, line)
    return F.pad(kernel / kernel.sum(), [(pad_to - size) // 2] * 4).float()


class BrightnessBlur(nn.Module):
    """The paper's 35 variants of each training face, sampled on the fly.

    The paper stores 7 brightness versions (gains 0.55 to 1.45, 1.0 being the face itself) and 28 blurred
    versions (Gaussian blur, kernel 3, 5, 7 or 9 by sigma 0.5 to 3.5) of every face: a 35x larger
    training set. Here each face, every time it is drawn, becomes one of the same 35 variants chosen
    uniformly at random. An epoch is then a uniform sample of 1/35 of the expanded set, which is the
    expanded set's distribution without its 35x memory. Every variant is one convolution (an identity
    kernel for the brightness ones) and a gain, so the whole batch is a single grouped convolution.
    """

    def __init__(self):
        super().__init__()
        pad_to = max(BLUR_KERNELS)
        identity = torch.zeros(pad_to, pad_to)
        identity[pad_to // 2, pad_to // 2] = 1.0
        kernels = [identity] * len(BRIGHTNESS_GAINS) + [
            _gaussian_kernel(size, sigma, pad_to) for size in BLUR_KERNELS for sigma in BLUR_SIGMAS]
        gains = [*BRIGHTNESS_GAINS, *[1.0] * (len(kernels) - len(BRIGHTNESS_GAINS))]
        self.register_buffer("kernels", torch.stack(kernels).unsqueeze(1), persistent=False)
        self.register_buffer("gains", torch.tensor(gains), persistent=False)

    @property
    def variants(self) -> int:
        return len(self.gains)

    def apply(self, faces: torch.Tensor, variant: torch.Tensor) -> torch.Tensor:
        """Variant ``variant[i]`` of face ``i``; faces (B, 1, H, W) in [0, 1]."""
        batch = faces.shape[0]
        pad = self.kernels.shape[-1] // 2
        stacked = F.pad(faces.transpose(0, 1), (pad, pad, pad, pad), mode="reflect")
        blurred = F.conv2d(stacked, self.kernels[variant], groups=batch).transpose(0, 1)
        return (blurred * self.gains[variant].view(batch, 1, 1, 1)).clamp_(0.0, 1.0)

    def forward(self, faces: torch.Tensor) -> torch.Tensor:
        return self.apply(faces, torch.randint(self.variants, (faces.shape[0],), device=faces.device))


def face_augmentation(strength: float = 1.0, policy: str = "fer", crop: int = 0, size: int = 48) -> nn.Module:
    """The training policy; ``strength`` scales the ``fer`` ranges (0 disables augmentation).

    With ``crop`` every face first becomes a random square crop of ``crop`` to ``size`` pixels, resized
    back to ``size``: the training side of the 10-crop test protocol (``--tta crops``), which still
    shows the whole face at times so single-view inference stays in the training distribution.
    """
    if policy not in AUGMENT_POLICIES:
        raise ValueError(f"unknown augmentation policy {policy!r}; choose from {', '.join(AUGMENT_POLICIES)}")
    crops = ([K.RandomResizedCrop((size, size), scale=((crop / size) ** 2, 1.0), ratio=(1.0, 1.0), p=1.0)]
             if crop else [])
    if strength <= 0:
        return nn.Sequential(*crops) if crops else nn.Identity()
    if policy == "brightness-blur":
        return nn.Sequential(*crops, BrightnessBlur())
    s = strength
    return nn.Sequential(
        *crops,
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
