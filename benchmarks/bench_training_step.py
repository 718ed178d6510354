"""Is augmentation a bottleneck? Time batched augmentation against one full training step.

    python benchmarks/bench_training_step.py [--batch 128] [--steps 10]

Prints milliseconds per batch for: uint8 -> float, kornia augmentation (one view and two views),
and the forward + backward + SGD step of MSFERNet with CE + SupCon on two views.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
import torch.nn.functional as F

from rtfer.models import create_model
from rtfer.train.augment import face_augmentation, to_float
from rtfer.train.losses import ProjectionHead, supcon_loss


def timed(fn, steps: int) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - start) / steps * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    torch.manual_seed(0)
    faces = torch.randint(0, 256, (args.batch, 48, 48), dtype=torch.uint8)
    labels = torch.randint(0, 7, (args.batch,))
    augment = face_augmentation()
    net = create_model("msfernet", num_classes=7)
    head = ProjectionHead(net.num_features)
    optimizer = torch.optim.SGD([*net.parameters(), *head.parameters()], lr=0.01, momentum=0.9)
    batch = to_float(faces)

    def step() -> None:
        views = torch.cat([augment(batch), augment(batch)])
        features = net.forward_features(views)
        loss = F.cross_entropy(net.forward_head(features), labels.repeat(2))
        loss = loss + 0.5 * supcon_loss(head(features).view(2, args.batch, -1).transpose(0, 1), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    result = {
        "batch": args.batch,
        "threads": torch.get_num_threads(),
        "to_float_ms": timed(lambda: to_float(faces), args.steps),
        "augment_one_view_ms": timed(lambda: augment(batch), args.steps),
        "augment_two_views_ms": timed(lambda: (augment(batch), augment(batch)), args.steps),
        "train_step_two_views_ms": timed(step, max(args.steps // 2, 2)),
    }
    result["augment_share_of_step"] = result["augment_two_views_ms"] / result["train_step_two_views_ms"]
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}, indent=1))


if __name__ == "__main__":
    main()
