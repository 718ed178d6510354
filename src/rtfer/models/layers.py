"""Small reusable blocks: conv-BN-act, CBAM attention, multi-scale and residual blocks."""

from __future__ import annotations

import torch
from torch import nn


class ConvBNAct(nn.Sequential):
    """Convolution, batch norm and ReLU with 'same' padding."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int = 3, stride: int = 1, act: bool = True):
        layers: list[nn.Module] = [
            nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(out_ch),
        ]
        if act:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class ChannelAttention(nn.Module):
    """CBAM channel attention: a shared MLP over average- and max-pooled descriptors."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(channels // reduction, 4)
        self.mlp = nn.Sequential(
            nn.Conv2d(channels, hidden, 1, bias=False),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        avg = self.mlp(x.mean(dim=(2, 3), keepdim=True))
        mx = self.mlp(x.amax(dim=(2, 3), keepdim=True))
        return x * torch.sigmoid(avg + mx)


class SpatialAttention(nn.Module):
    """CBAM spatial attention: a 7x7 conv over channel-wise mean and max maps."""

    def __init__(self, kernel: int = 7):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel, padding=kernel // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.conv(maps))


class CBAM(nn.Sequential):
    """Convolutional Block Attention Module (Woo et al., ECCV 2018): channel, then spatial."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__(ChannelAttention(channels, reduction), SpatialAttention())


class MultiScaleBlock(nn.Module):
    """Parallel 3x3 and 5x5 branches, fused by sum or channel concatenation, with a residual path.

    ``fuse="sum"``: both branches produce ``out_ch`` channels and are added.
    ``fuse="concat"``: each branch produces half and the halves are stacked.
    ``multiscale=False`` keeps only the 3x3 branch (the single-scale ablation).
    """

    def __init__(self, in_ch: int, out_ch: int, fuse: str = "sum", multiscale: bool = True,
                 cbam: bool = True):
        super().__init__()
        if fuse not in ("sum", "concat"):
            raise ValueError(f"fuse must be 'sum' or 'concat', not {fuse!r}")
        self.fuse = fuse if multiscale else "sum"
        branch_ch = out_ch // 2 if self.fuse == "concat" else out_ch
        self.branch3 = ConvBNAct(in_ch, branch_ch, 3)
        self.branch5 = ConvBNAct(in_ch, out_ch - branch_ch if self.fuse == "concat" else out_ch, 5) \
            if multiscale else None
        self.mix = ConvBNAct(out_ch, out_ch, 1, act=False)
        self.attention = CBAM(out_ch) if cbam else nn.Identity()
        self.shortcut = nn.Identity() if in_ch == out_ch else ConvBNAct(in_ch, out_ch, 1, act=False)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.branch3(x)
        if self.branch5 is not None:
            y5 = self.branch5(x)
            y = y + y5 if self.fuse == "sum" else torch.cat([y, y5], dim=1)
        y = self.attention(self.mix(y))
        return self.act(y + self.shortcut(x))


class ResidualBlock(nn.Module):
    """A basic two-conv residual block (He et al. 2016) with optional CBAM before the sum."""

    def __init__(self, channels: int, cbam: bool = True):
        super().__init__()
        self.body = nn.Sequential(ConvBNAct(channels, channels, 3), ConvBNAct(channels, channels, 3, act=False))
        self.attention = CBAM(channels) if cbam else nn.Identity()
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.attention(self.body(x)))
