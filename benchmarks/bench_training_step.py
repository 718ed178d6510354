"""Is augmentation a bottleneck, and what does bfloat16 buy? Time one MSFERNet training step.

    python benchmarks/bench_training_step.py [--batch 128] [--steps 10] [--views 1|2] [--out FILE]

Prints milliseconds per batch for: uint8 -> float, kornia augmentation (one view and two views),
the forward + backward + SGD step with CE on one view (the shipped recipe) and with CE + SupCon on two
views, each in float32 and in bfloat16 autocast (the trainer's ``--precision``).
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from rtfer.models import create_model
from rtfer.train.augment import face_augmentation, to_float
from rtfer.train.losses import ProjectionHead, supcon_loss
from rtfer.train.trainer import cpu_description


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
    parser.add_argument("--views", type=int, choices=(1, 2), default=2,
                        help="1: time only the one-view CE step (where emulated bf16 makes two views slow)")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()
    torch.manual_seed(0)
    faces = torch.randint(0, 256, (args.batch, 48, 48), dtype=torch.uint8)
    labels = torch.randint(0, 7, (args.batch,))
    augment = face_augmentation()
    cropped = face_augmentation(crop=40)
    net = create_model("msfernet", num_classes=7)
    head = ProjectionHead(net.num_features)
    optimizer = torch.optim.SGD([*net.parameters(), *head.parameters()], lr=0.01, momentum=0.9)
    batch = to_float(faces)

    def step(views: int, bf16: bool) -> None:
        inputs = torch.cat([augment(batch) for _ in range(views)])
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            features = net.forward_features(inputs)
            logits = net.forward_head(features)
            embedding = head(features) if views == 2 else None
        loss = F.cross_entropy(logits.float(), labels.repeat(views))
        if embedding is not None:
            pairs = embedding.float().view(2, args.batch, -1).transpose(0, 1)
            loss = loss + 0.5 * supcon_loss(pairs, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    result = {
        "batch": args.batch,
        "threads": torch.get_num_threads(),
        "cpu": cpu_description().split("|")[0],
        "avx512_bf16": "avx512_bf16" in cpu_description().split("|")[-1].split(),
        "amx": torch.cpu._is_amx_tile_supported(),
        "to_float_ms": timed(lambda: to_float(faces), args.steps),
        "augment_one_view_ms": timed(lambda: augment(batch), args.steps),
        "augment_two_views_ms": timed(lambda: (augment(batch), augment(batch)), args.steps),
        "augment_one_view_crop40_ms": timed(lambda: cropped(batch), args.steps),
    }
    for precision in ("fp32", "bf16"):
        for views, name in ((1, "ce_one_view"), (2, "supcon_two_views"))[:args.views]:
            run = functools.partial(step, views, precision == "bf16")
            result[f"train_step_{name}_{precision}_ms"] = timed(run, max(args.steps // 2, 2))
    result["augment_share_of_step_fp32"] = result["augment_one_view_ms"] / result["train_step_ce_one_view_fp32_ms"]
    result["bf16_speedup_ce_one_view"] = (result["train_step_ce_one_view_fp32_ms"]
                                          / result["train_step_ce_one_view_bf16_ms"])
    text = json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
