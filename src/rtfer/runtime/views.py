"""Test-time views of a batch of faces: the face alone, with its mirror, or ten crops.

``crops`` is the 10-crop protocol of the strongest FER2013 single models: the four corner crops and the
centre crop of :data:`CROP_FRACTION` of the side, and their mirror images. Each crop is resized back to
the model's input size, which is what training with ``--crop`` (random resized crops) shows the model.
Logits are averaged over the views. Torch-free, so every engine can use it.
"""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np

#: Test-time augmentation modes: no extra view, the mirror image, or ten crops.
TTA_MODES = ("none", "flip", "crops")
#: Side of a test crop as a share of the face's side (44 px of FER2013's 48).
CROP_FRACTION = 44 / 48


def tta_mode(tta: bool | str | None) -> str:
    """Normalise the historical boolean (``True`` = mirror) to a mode name."""
    if tta is True:
        return "flip"
    if not tta:
        return "none"
    if tta not in TTA_MODES:
        raise ValueError(f"test-time augmentation must be one of {', '.join(TTA_MODES)}, not {tta!r}")
    return tta


def view_count(tta: bool | str | None) -> int:
    return {"none": 1, "flip": 2, "crops": 10}[tta_mode(tta)]


def test_views(images: np.ndarray, tta: bool | str | None) -> Iterator[np.ndarray]:
    """The views of uint8 faces (N, H, W), each (N, H, W), one after the other."""
    mode = tta_mode(tta)
    if mode == "crops":
        height, width = images.shape[1:3]
        crop = round(min(height, width) * CROP_FRACTION)
        corners = [(0, 0), (0, width - crop), (height - crop, 0), (height - crop, width - crop),
                   ((height - crop) // 2, (width - crop) // 2)]
        for top, left in corners:
            resized = np.stack([cv2.resize(np.ascontiguousarray(face[top:top + crop, left:left + crop]),
                                           (width, height), interpolation=cv2.INTER_LINEAR) for face in images])
            yield resized
            yield resized[:, :, ::-1]
        return
    yield images
    if mode == "flip":
        yield images[:, :, ::-1]
