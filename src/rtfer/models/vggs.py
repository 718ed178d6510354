"""Compact VGG-S with an emotion-intensity head (arXiv 2504.03010).

VGG-S (Chatfield et al., 2014) is five convolutions and two large fully connected layers. The
reduced version keeps its shape on 128x128 gray faces aligned with 68 landmarks, with smaller
kernels in the late stages, fewer channels and batch norm in place of local response norm:

    conv1   7x7/2, 32       (64x64)  -> max-pool 3/3  (21x21)
    conv2   5x5,   64       (21x21)  -> max-pool 2/2  (10x10)
    conv3-5 3x3,   96 x 3   (10x10)  -> max-pool 3/3  (3x3)
    fc6 1024, fc7 512 (dropout), then two heads on fc7:
      classifier  7 logits (softmax cross-entropy)
      intensity   7 logits, one per emotion (sigmoid cross-entropy): how strongly each shows

About 1.7M parameters (6.8 MB in float32, 3.4 MB as shipped in float16; the paper's is 12.1 MB) and
0.1 GFLOPs per face. ``forward`` returns the class logits, so evaluation and export treat it like any classifier;
``forward_outputs`` returns both heads for training and for engines that report intensity.
"""

from __future__ import annotations

import torch
from torch import nn

from rtfer.models.layers import ConvBNAct
from rtfer.models.registry import register_model


class VGGS(nn.Module):
    """Reduced VGG-S for 128x128 gray faces, with classification and intensity heads."""

    has_intensity = True

    def __init__(self, num_classes: int = 7, in_chans: int = 1,
                 widths: tuple[int, int, int] = (32, 64, 96), fc: tuple[int, int] = (1024, 512),
                 dropout: float = 0.5):
        super().__init__()
        c1, c2, c3 = widths
        self.features = nn.Sequential(
            ConvBNAct(in_chans, c1, 7, stride=2), nn.MaxPool2d(3, 3),
            ConvBNAct(c1, c2, 5), nn.MaxPool2d(2, 2),
            ConvBNAct(c2, c3, 3), ConvBNAct(c3, c3, 3), ConvBNAct(c3, c3, 3), nn.MaxPool2d(3, 3),
        )
        self.num_features = fc[1]
        self.fc = nn.Sequential(
            nn.Flatten(), nn.Linear(c3 * 3 * 3, fc[0]), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(fc[0], fc[1]), nn.ReLU(inplace=True),
        )
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(fc[1], num_classes)
        self.intensity = nn.Linear(fc[1], num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The fc7 embedding both heads read."""
        return self.fc(self.features(x))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(features))

    def forward_heads(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both heads on the embedding: (class logits, intensity logits)."""
        dropped = self.dropout(features)
        return self.classifier(dropped), self.intensity(dropped)

    def forward_outputs(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(class logits, intensity logits); a sigmoid of the second gives intensities in [0, 1]."""
        return self.forward_heads(self.forward_features(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def class_heads(self) -> list[nn.Linear]:
        return [self.classifier, self.intensity]


@register_model("vggs")
def vggs(**kwargs) -> VGGS:
    return VGGS(**kwargs)
