"""VGGNet-FER: a plain 3x3 VGG-style CNN at MSFERNet's budget, the second architecture of the ensemble.

The strongest single FER2013 models are plain VGG-style stacks (Khaireddin & Chen 2021), but at 11-30M
parameters. This one keeps their shape within 2.5M parameters and 0.45 GFLOPs per 48x48 face:

    stage 1    two 3x3 convs, 40 channels, at full resolution (48x48), max-pool
    stage 2    two 3x3 convs, 80 channels (24x24), max-pool
    stage 3    two 3x3 convs, 160 channels (12x12), max-pool
    stage 4    two 3x3 convs, 320 channels (6x6)
    head       global average pooling, dropout, linear classifier

Unlike MSFERNet (which downsamples in its stem) it spends a fifth of its FLOPs on full-resolution
features, where fine expression cues such as a raised lip corner live.
"""

from __future__ import annotations

import torch
from torch import nn

from rtfer.models.layers import ConvBNAct
from rtfer.models.registry import register_model


class VGGNet(nn.Module):
    """Four stages of two 3x3 conv-BN-ReLU layers, max-pooled between stages, global pooling, linear head."""

    def __init__(self, num_classes: int = 7, in_chans: int = 1, widths: tuple[int, ...] = (40, 80, 160, 320),
                 dropout: float = 0.2):
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_chans
        for stage, width in enumerate(widths):
            if stage:
                layers.append(nn.MaxPool2d(2))
            layers += [ConvBNAct(channels, width, 3), ConvBNAct(width, width, 3)]
            channels = width
        self.features = nn.Sequential(*layers)
        self.num_features = channels
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(channels, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The pooled embedding (what the contrastive projection head sees)."""
        return torch.flatten(self.pool(self.features(x)), 1)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def class_heads(self) -> list[nn.Linear]:
        """Layers with one output row per class (a warm start remaps them by class name)."""
        return [self.head]


@register_model("vggnet")
def vggnet(**kwargs) -> VGGNet:
    return VGGNet(**kwargs)
