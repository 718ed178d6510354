"""Supervised contrastive loss (Khosla et al., NeurIPS 2020) and its projection head."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ProjectionHead(nn.Module):
    """MLP from the encoder embedding to an L2-normalised contrastive embedding (128-d)."""

    def __init__(self, in_dim: int, hidden_dim: int = 512, out_dim: int = 128):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.ReLU(inplace=True),
                                 nn.Linear(hidden_dim, out_dim))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.mlp(features), dim=1)


def supcon_loss(embeddings: torch.Tensor, labels: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """SupCon loss, the "L_out" form of Khosla et al. (eq. 2).

    ``embeddings``: (B, V, D), L2-normalised, V augmented views of B images.
    ``labels``: (B,). Every other sample with the same label (any view) is a positive of an anchor;
    the anchor itself is never its own positive or negative.

        L = mean over anchors i with positives P(i) of
            -1/|P(i)| * sum_{p in P(i)} log( exp(z_i.z_p / t) / sum_{a != i} exp(z_i.z_a / t) )

    (The reference code also multiplies by ``t / base_t``; with ``base_t = t`` that factor is 1.)
    """
    batch, views, _ = embeddings.shape
    z = embeddings.transpose(0, 1).reshape(batch * views, -1)        # view-major: (V*B, D)
    y = labels.repeat(views)
    not_self = ~torch.eye(len(z), dtype=torch.bool, device=z.device)

    logits = (z @ z.T) / temperature
    logits = logits.masked_fill(~not_self, float("-inf"))             # drop a == i from the denominator
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)

    positives = (y[:, None] == y[None, :]) & not_self
    n_pos = positives.sum(dim=1)
    has_pos = n_pos > 0                                                # anchors alone in their class
    mean_log_prob_pos = log_prob.masked_fill(~positives, 0.0).sum(dim=1)[has_pos] / n_pos[has_pos]
    if not has_pos.any():
        return embeddings.sum() * 0.0                                  # keeps the graph, contributes 0
    return -mean_log_prob_pos.mean()
