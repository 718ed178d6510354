import math

import pytest
import torch
import torch.nn.functional as F

from rtfer.train.losses import ProjectionHead, supcon_loss


def test_hand_computed_two_images_two_views():
    # image 0: both views (1, 0); image 1: both views (0, 1); different labels; tau = 1.
    # Anchor (1,0): positive = its other view (dot 1); denominator = e^1 + e^0 + e^0.
    # Loss = -(1 - log(e + 2)) for every anchor.
    z = torch.tensor([[[1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]]])
    loss = supcon_loss(z, torch.tensor([0, 1]), temperature=1.0)
    assert loss.item() == pytest.approx(math.log(math.e + 2) - 1, abs=1e-6)


def test_same_label_images_are_positives_of_each_other():
    # two images of one class, one view each, orthogonal, tau = 0.5:
    # anchor's only candidate is the other image, which is positive: log_prob = 0 -> loss 0
    z = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]]])
    assert supcon_loss(z, torch.tensor([3, 3]), temperature=0.5).item() == pytest.approx(0.0, abs=1e-6)


def test_matches_a_loop_implementation():
    torch.manual_seed(0)
    z = F.normalize(torch.randn(6, 2, 8), dim=2)
    labels = torch.tensor([0, 1, 0, 2, 1, 0])
    flat, y, t = z.transpose(0, 1).reshape(12, 8), labels.repeat(2), 0.2
    losses = []
    for i in range(12):
        others = [a for a in range(12) if a != i]
        denom = sum(math.exp(float(flat[i] @ flat[a]) / t) for a in others)
        positives = [p for p in others if y[p] == y[i]]
        if positives:
            losses.append(-sum(float(flat[i] @ flat[p]) / t - math.log(denom) for p in positives) / len(positives))
    assert supcon_loss(z, labels, t).item() == pytest.approx(sum(losses) / len(losses), rel=1e-5)


def test_lower_when_classes_cluster():
    labels = torch.tensor([0, 0, 1, 1])
    clustered = F.normalize(torch.tensor([[1.0, 0.1], [1.0, -0.1], [-1.0, 0.1], [-1.0, -0.1]]), dim=1)
    mixed = clustered[[0, 2, 1, 3]]
    assert supcon_loss(clustered[:, None], labels) < supcon_loss(mixed[:, None], labels)


def test_no_positive_anywhere_gives_zero_with_a_gradient():
    z = F.normalize(torch.randn(3, 1, 4), dim=2).requires_grad_()
    loss = supcon_loss(z, torch.tensor([0, 1, 2]))
    loss.backward()
    assert loss.item() == 0.0


def test_projection_is_unit_length():
    out = ProjectionHead(32)(torch.randn(5, 32))
    assert out.shape == (5, 128)
    assert torch.allclose(out.norm(dim=1), torch.ones(5), atol=1e-5)
