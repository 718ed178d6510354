"""MSFERNet: the lightweight multi-scale CNN of RT-FER (arXiv 2606.01069).

Layout (48x48 gray input, default widths):

    stem       3x3 conv (48x48) -> strided 3x3 conv (24x24)
    stage 1    3x3 || 5x5 branches fused by element-wise sum, residual, CBAM    (24x24)
    down       strided 3x3 conv                                               (12x12)
    stage 2    3x3 || 5x5 branches concatenated channel-wise, residual, CBAM   (12x12)
    down       strided 3x3 conv                                               (6x6)
    stage 3    residual block with CBAM                                        (6x6)
    head       global average pooling, dropout, MLP classifier (one hidden layer)

Where the FLOPs sit decides CPU training time: the 5x5 branches run at 24x24 and 12x12 only,
and most parameters live in the cheap 6x6 stage.
"""

from __future__ import annotations

import torch
from torch import nn

from rtfer.models.layers import ConvBNAct, MultiScaleBlock, ResidualBlock
from rtfer.models.registry import register_model


class MSFERNet(nn.Module):
    """Multi-scale residual CNN with CBAM attention for 48x48 gray faces."""

    def __init__(self, num_classes: int = 7, in_chans: int = 1,
                 widths: tuple[int, int, int, int] = (32, 40, 112, 288),
                 stage3_depth: int = 1, head_hidden: int = 768, cbam: bool = True,
                 multiscale: bool = True, dropout: float = 0.3, groups: list[list[int]] | None = None):
        super().__init__()
        self.groups = groups
        c0, c1, c2, c3 = widths
        self.num_features = c3
        self.stem = nn.Sequential(ConvBNAct(in_chans, c0, 3), ConvBNAct(c0, c1, 3, stride=2))
        self.stage1 = MultiScaleBlock(c1, c1, fuse="sum", multiscale=multiscale, cbam=cbam)
        self.down1 = ConvBNAct(c1, c2, 3, stride=2)
        self.stage2 = MultiScaleBlock(c2, c2, fuse="concat", multiscale=multiscale, cbam=cbam)
        self.down2 = ConvBNAct(c2, c3, 3, stride=2)
        self.stage3 = nn.Sequential(*[ResidualBlock(c3, cbam=cbam) for _ in range(stage3_depth)])
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        if head_hidden:
            self.head = nn.Sequential(nn.Linear(c3, head_hidden), nn.ReLU(inplace=True),
                                      nn.Dropout(dropout), nn.Linear(head_hidden, num_classes))
        else:
            self.head = nn.Linear(c3, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The pooled embedding (what the contrastive projection head sees)."""
        x = self.stem(x)
        x = self.down1(self.stage1(x))
        x = self.down2(self.stage2(x))
        x = self.stage3(x)
        return torch.flatten(self.pool(x), 1)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        logits = self.head(self.dropout(features))
        if self.groups is None:
            return logits
        # Derived group model: the log of each group's summed class probabilities (up to a shared constant),
        # so a softmax over them gives P(group) among the grouped classes; classes in no group drop out.
        return torch.stack([logits[:, members].logsumexp(dim=1) for members in self.groups], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def class_heads(self) -> list[nn.Linear]:
        """Layers with one output row per class (a warm start remaps them by class name)."""
        return [self.head[-1] if isinstance(self.head, nn.Sequential) else self.head]


@register_model("msfernet")
def msfernet(**kwargs) -> MSFERNet:
    return MSFERNet(**kwargs)
