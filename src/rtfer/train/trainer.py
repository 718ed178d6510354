"""The training loop: cross-entropy, optionally with supervised contrastive learning.

Modes (``TrainConfig.supcon``):

* ``off`` (default, chosen by the ablation in docs/training.md): cross-entropy on one augmented view.
* ``joint``: two augmented views per face; CE on both plus ``supcon_weight`` x SupCon on the
  projected embeddings (one backward pass, same encoder).
* ``two-stage``: SupCon alone for ``pretrain_epochs`` (encoder + projection head), then CE
  fine-tuning of the whole network for the remaining epochs (Khosla et al.'s recipe, fine-tuned
  rather than linear-probed because FER needs the encoder to adapt).

Models with an intensity head (VGG-S) also learn per-emotion intensity with sigmoid cross-entropy.
No intensity labels exist here, so the targets are derived by mixup: with probability ``mixup`` a face
is blended with a partner face (of the same subject when subject ids are known, as in CK+) in
proportion lambda ~ U(0, 1), and the target intensity of each emotion is its share of the blend
(lambda for the face's emotion, 1 - lambda for the partner's); unblended faces get one-hot targets.
The classifier is trained on the same soft targets.

Schedules (``TrainConfig.schedule``): linear warm-up, then cosine decay (``cosine``) or ReduceLROnPlateau on
validation accuracy (``plateau``, its state saved in the checkpoint so a resumed run continues exactly). With
``teacher`` (targets written by :mod:`rtfer.train.distil`) the classification loss is blended with
distillation from those stored ensemble probabilities.

Everything a run produces lands in ``run_dir``: ``history.csv``, ``curves.png``, a resumable
checkpoint every epoch, ``best.safetensors`` + ``best.json`` (selected on the validation set), and
validation reports. Runs under ``torchrun`` use DistributedDataParallel; rank 0 writes the files.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel
from tqdm.auto import tqdm

from rtfer.data.readers import FaceDataset, default_cache_dir
from rtfer.errors import RtferError
from rtfer.evaluation.figures import plot_confusion, plot_error_gallery
from rtfer.evaluation.metrics import classification_report
from rtfer.models import create_model, model_spec
from rtfer.runtime.predict import has_intensity, predict_logits
from rtfer.runtime.torch_weights import load_model, save_weights
from rtfer.runtime.weights import WeightsMeta
from rtfer.taxonomy import canonical
from rtfer.train import AUGMENT_POLICIES, PRECISIONS, SCHEDULES, SUPCON_MODES
from rtfer.train.augment import face_augmentation, to_float
from rtfer.train.checkpoint import load_checkpoint, module_state, save_checkpoint, unflatten_optimizer
from rtfer.train.distil import distillation_loss, load_teacher_targets
from rtfer.train.losses import ProjectionHead, supcon_loss
from rtfer.train.plots import plot_curves

log = logging.getLogger(__name__)

HISTORY_FIELDS = ["epoch", "stage", "lr", "train_loss", "train_acc", "val_loss", "val_acc", "val_macro_f1",
                  "seconds"]


@dataclass
class TrainConfig:
    """Every knob of a run; stored in the checkpoint and in the weights metadata."""

    model: str = "msfernet"
    model_config: dict[str, Any] = field(default_factory=dict)
    supcon: str = "off"
    supcon_weight: float = 0.5
    temperature: float = 0.1
    pretrain_epochs: int | None = None
    epochs: int = 30
    batch_size: int = 128
    optimizer: str = "sgd"
    lr: float | None = None
    weight_decay: float | None = None
    warmup_epochs: float = 1.0
    schedule: str = "cosine"
    min_lr_ratio: float = 0.01
    plateau_patience: int = 5
    plateau_factor: float = 0.75
    label_smoothing: float = 0.1
    ema_decay: float = 0.0
    class_weighting: str = "none"
    augment: float = 1.0
    augment_policy: str = ""
    crop: int = 0
    clean: bool = False  # blank faces and conflicting copies dropped by the CLI (the default there)
    mixup: float = 0.0
    teacher: str = ""
    distil_weight: float = 0.5
    distil_temperature: float = 2.0
    intensity_weight: float = 1.0
    select: str = "best"
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"

    def __post_init__(self) -> None:
        if self.supcon not in SUPCON_MODES:
            raise RtferError(f"--supcon must be one of {', '.join(SUPCON_MODES)}, not {self.supcon!r}")
        if self.optimizer not in ("sgd", "adamw"):
            raise RtferError(f"--optimizer must be sgd or adamw, not {self.optimizer!r}")
        if self.class_weighting not in ("none", "balanced", "sqrt"):
            raise RtferError("--class-weighting must be none, balanced or sqrt")
        if self.epochs < 1 or self.batch_size < 2:
            raise RtferError("need at least 1 epoch and a batch size of at least 2")
        if self.supcon == "two-stage":
            if self.pretrain_epochs is None:
                self.pretrain_epochs = self.epochs // 2
            if not 0 < self.pretrain_epochs < self.epochs:
                raise RtferError("two-stage training needs 0 < --pretrain-epochs < --epochs")
        else:
            self.pretrain_epochs = 0
        if self.lr is None:
            self.lr = 0.05 * self.batch_size / 128 if self.optimizer == "sgd" else 2e-3
        if self.weight_decay is None:
            self.weight_decay = 5e-4 if self.optimizer == "sgd" else 0.05
        try:
            spec = model_spec(self.model)
        except ValueError as exc:
            raise RtferError(str(exc)) from None
        if not self.augment_policy:
            self.augment_policy = spec.augment
        if self.augment_policy not in AUGMENT_POLICIES:
            raise RtferError(f"--augment-policy must be one of {', '.join(AUGMENT_POLICIES)}")
        if not 0.0 <= self.mixup <= 1.0:
            raise RtferError("--mixup is a probability between 0 and 1")
        if self.schedule not in SCHEDULES:
            raise RtferError(f"--schedule must be one of {', '.join(SCHEDULES)}, not {self.schedule!r}")
        if self.schedule == "plateau" and self.supcon == "two-stage":
            raise RtferError("--schedule plateau follows validation accuracy, which two-stage pre-training lacks")
        if self.crop and not 0 < self.crop <= spec.input_size:
            raise RtferError(f"--crop must be between 1 and the model's input size {spec.input_size}")
        if self.teacher and self.mixup > 0:
            raise RtferError("--teacher and --mixup cannot be combined (the teacher targets are per face)")
        if not 0.0 <= self.distil_weight <= 1.0 or self.distil_temperature <= 0:
            raise RtferError("--distil-weight is between 0 and 1 and --distil-temperature above 0")
        if self.precision not in PRECISIONS:
            raise RtferError(f"--precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")


class Learner(nn.Module):
    """The network plus (optionally) the contrastive projection head, as one module for DDP."""

    def __init__(self, net: nn.Module, projection: nn.Module | None):
        super().__init__()
        self.net = net
        self.projection = projection

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """(class logits, intensity logits or None, projected embedding or None)."""
        features = self.net.forward_features(x)
        if has_intensity(self.net):
            logits, intensity = self.net.forward_heads(features)
        else:
            logits, intensity = self.net.forward_head(features), None
        return logits, intensity, (self.projection(features) if self.projection is not None else None)


def mixup_partners(faces: int, groups: np.ndarray | None) -> Callable[[torch.Tensor], torch.Tensor]:
    """A function giving each face index a random partner: a face of the same subject when ``groups`` are known
    (a blend of one person's expressions), else any face."""
    if groups is None:
        return lambda index: torch.randint(0, faces, index.shape)
    order = np.argsort(groups, kind="stable")
    _, starts, counts = np.unique(groups[order], return_index=True, return_counts=True)
    member = np.empty(len(groups), dtype=np.int64)
    member[order] = np.repeat(np.arange(len(starts)), counts)
    order_t, starts_t, counts_t, member_t = map(torch.from_numpy, (order, starts, counts, member))

    def partners(index: torch.Tensor) -> torch.Tensor:
        group = member_t[index]
        offset = (torch.rand(len(index)) * counts_t[group]).long()
        return order_t[starts_t[group] + offset]

    return partners


@dataclass
class Distributed:
    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_distributed(device: torch.device) -> Distributed:
    """Join the process group when launched by torchrun (gloo on CPU, NCCL on CUDA)."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return Distributed()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    log.info("distributed training: rank %d of %d (%s)", dist.get_rank(), dist.get_world_size(),
             dist.get_backend())
    return Distributed(dist.get_rank(), dist.get_world_size())


def step_seconds(learner: nn.Module, batch: torch.Tensor, bf16: bool, steps: int = 2) -> float:
    """Median seconds of one forward + backward pass on ``batch`` (after one untimed warm-up step).

    Runs in eval mode so the probe leaves BatchNorm statistics as they were.
    """
    learner.eval()
    times = []
    for step in range(steps + 1):
        start = time.perf_counter()
        with torch.autocast(batch.device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = learner(batch)[0]
        logits.float().logsumexp(1).mean().backward()
        if step:
            times.append(time.perf_counter() - start)
    learner.zero_grad(set_to_none=True)
    return float(np.median(times))


def cpu_description() -> str:
    """The CPU's model name and flags (where Linux names them): what decides bf16's speed."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.machine()
    fields = {key.strip(): value.strip() for key, _, value in
              (line.partition(":") for line in info.splitlines()[:40])}
    return f"{fields.get('model name', '')}|{fields.get('flags', '')}"


def use_bf16(precision: str, device: torch.device, probe: Callable[[bool], float] | None = None,
             cache_key: str = "") -> bool:
    """Whether to run forward passes in bfloat16 autocast (weights and optimizer stay float32).

    ``auto`` picks bf16 on CUDA. On a CPU it depends on the instruction set (AMX or AVX-512 BF16 run bf16
    convolutions natively, about 1.7-2x faster than float32; plain AVX2 emulates them, 4-15x slower), so
    ``auto`` times a few training steps both ways with ``probe`` and keeps the faster. With ``cache_key``
    (the machine and the model) the verdict is kept in the cache folder, so the probe runs once.
    """
    if precision != "auto":
        return precision == "bf16"
    if device.type == "cuda" or probe is None:
        return device.type == "cuda"
    cache = default_cache_dir() / f"precision-{hashlib.sha1(cache_key.encode()).hexdigest()[:16]}.json"
    try:
        timing = json.loads(cache.read_text()) if cache_key else None
    except (OSError, ValueError):
        timing = None
    if not isinstance(timing, dict) or not {"fp32", "bf16"} <= set(timing):
        timing = {"fp32": probe(False), "bf16": probe(True)}
        if cache_key:
            try:
                cache.parent.mkdir(parents=True, exist_ok=True)
                cache.write_text(json.dumps({**timing, "key": cache_key}))
            except OSError:
                pass  # no cache: the probe runs again next time
    faster = float(timing["bf16"]) < 0.9 * float(timing["fp32"])
    log.info("precision probe: a training step takes %.0f ms in float32, %.0f ms in bf16; using %s",
             float(timing["fp32"]) * 1000, float(timing["bf16"]) * 1000, "bf16" if faster else "float32")
    return faster


def pick_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            local = int(os.environ.get("LOCAL_RANK", 0))
            torch.cuda.set_device(local)
            return torch.device("cuda", local)
        return torch.device("cpu")
    return torch.device(name)


def ema_with_warmup(decay: float):
    """EMA update whose decay ramps up as (1 + n) / (10 + n) until it reaches ``decay``: without the ramp
    the average keeps the random initial weights for thousands of steps (a 0.999 EMA still holds 64% of
    them after two FER2013 epochs)."""

    def update(averaged: torch.Tensor, current: torch.Tensor, num_averaged: torch.Tensor) -> torch.Tensor:
        n = float(num_averaged)
        rate = min(decay, (1 + n) / (10 + n))
        return averaged + (current - averaged) * (1 - rate)

    return update


def class_weights(labels: np.ndarray, classes: int, mode: str) -> torch.Tensor | None:
    if mode == "none":
        return None
    counts = np.maximum(np.bincount(labels, minlength=classes), 1).astype(np.float64)
    weights = counts.sum() / (classes * counts)
    if mode == "sqrt":
        weights = np.sqrt(weights)
    return torch.tensor(weights / weights.mean(), dtype=torch.float32)


def lr_factor(config: TrainConfig, epoch_progress: float) -> float:
    """Linear warm-up then cosine decay, restarted at the fine-tuning stage of two-stage runs.

    With the plateau schedule only the warm-up is a factor; the plateau scheduler sets the rate itself.
    """
    if config.schedule == "plateau":
        return min(1.0, (epoch_progress + 1e-3) / config.warmup_epochs) if config.warmup_epochs > 0 else 1.0
    start, end = (0.0, float(config.pretrain_epochs or config.epochs))
    if config.pretrain_epochs and epoch_progress >= config.pretrain_epochs:
        start, end = float(config.pretrain_epochs), float(config.epochs)
    t = epoch_progress - start
    span = end - start
    warmup = min(config.warmup_epochs, span / 2)
    if t < warmup:
        return (t + 1e-3) / warmup
    cosine = 0.5 * (1 + math.cos(math.pi * min((t - warmup) / max(span - warmup, 1e-9), 1.0)))
    return config.min_lr_ratio + (1 - config.min_lr_ratio) * cosine


def init_from(net: nn.Module, weights: str, labels: list[str]) -> None:
    """Warm start: copy every tensor whose name and shape match; the classifier's rows are copied by
    class name, so a class the source lacks (CK+'s contempt) starts fresh and a reordered label set
    (CK+ versus FER2013 order) keeps each class's own weights."""
    source, meta = load_model(weights)
    own, theirs = net.state_dict(), source.state_dict()
    matched = {k: v for k, v in theirs.items() if k in own and own[k].shape == v.shape}
    names = {id(p): name for name, p in net.named_parameters()}
    rows = {canonical(name): i for i, name in enumerate(meta.labels)}
    for param in (p for head in net.class_heads() for p in head.parameters()):
        name = names[id(param)]
        remapped = own[name].clone()
        if name in theirs and theirs[name].shape[1:] == remapped.shape[1:]:
            for i, label in enumerate(labels):
                if canonical(label) in rows:
                    remapped[i] = theirs[name][rows[canonical(label)]]
        matched[name] = remapped
    net.load_state_dict(matched, strict=False)
    shared = sum(canonical(label) in rows for label in labels)
    log.info("initialised %d/%d tensors from %s (%d/%d classes carried over)", len(matched), len(own), weights,
             shared, len(labels))


class Trainer:
    """Trains one model on an in-memory dataset; see the module docstring for the modes."""

    def __init__(self, config: TrainConfig, train: FaceDataset, val: FaceDataset | None, run_dir: str | Path,
                 data_description: dict[str, Any] | None = None, init_weights: str | None = None,
                 resume: bool = False, show_progress: bool = True):
        self.config = config
        self.train_data = train
        self.val_data = val
        self.run_dir = Path(run_dir)
        self.labels = list(train.scheme.labels)
        self.data_description = data_description or {}
        self.show_progress = show_progress
        self.device = pick_device(config.device)
        self.dist = setup_distributed(self.device)

        torch.manual_seed(config.seed + self.dist.rank)
        spec = model_spec(config.model)
        self.input_size = spec.input_size
        if train.images.shape[1:] != (spec.input_size, spec.input_size):
            raise RtferError(f"model {config.model} takes {spec.input_size}x{spec.input_size} faces, "
                             f"the data has {train.images.shape[1]}x{train.images.shape[2]}")
        self.model_config = {"num_classes": len(self.labels), **config.model_config}
        try:
            net = create_model(config.model, **self.model_config)
        except (TypeError, ValueError) as exc:
            raise RtferError(f"model {config.model} does not take these options ({exc})") from None
        if init_weights:
            init_from(net, init_weights, self.labels)
        projection = ProjectionHead(net.num_features) if config.supcon != "off" else None
        self.learner = Learner(net, projection).to(self.device)
        if self.device.type == "cuda":
            self.learner = self.learner.to(memory_format=torch.channels_last)
        self.ema = (AveragedModel(net, avg_fn=ema_with_warmup(config.ema_decay), use_buffers=True)
                    if config.ema_decay > 0 else None)
        params = self.learner.parameters()
        if config.optimizer == "sgd":
            self.optimizer = torch.optim.SGD(params, lr=config.lr, momentum=0.9, nesterov=True,
                                             weight_decay=config.weight_decay)
        else:
            self.optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
        # mode max on validation accuracy; its state (best, bad epochs, rate) travels in the checkpoint
        self.plateau = (torch.optim.lr_scheduler.ReduceLROnPlateau(
            self.optimizer, mode="max", factor=config.plateau_factor, patience=config.plateau_patience)
            if config.schedule == "plateau" else None)
        if self.plateau is not None and val is None:
            raise RtferError("--schedule plateau needs validation data (--val)")
        self.model = (nn.parallel.DistributedDataParallel(
            self.learner, find_unused_parameters=config.supcon == "two-stage") if dist.is_initialized()
            else self.learner)

        images = train.images.astype(np.float32) / 255.0
        self.mean, self.std = float(images.mean()), float(images.std())
        self.images = torch.from_numpy(train.images)
        self.targets = torch.from_numpy(train.labels)
        self.weights = class_weights(train.labels, len(self.labels), config.class_weighting)
        if self.weights is not None:
            self.weights = self.weights.to(self.device)
        self.augment = face_augmentation(config.augment, config.augment_policy, crop=config.crop,
                                         size=spec.input_size).to(self.device)
        self.teacher = load_teacher_targets(config.teacher, train) if config.teacher else None
        probe_batch = ((to_float(self.images[:16]) - self.mean) / self.std).to(self.device)
        machine = f"{cpu_description()}|{os.cpu_count()}|{torch.__version__}"
        self.bf16 = use_bf16(config.precision, self.device,
                             lambda bf16: step_seconds(self.learner, probe_batch, bf16),
                             cache_key=f"{machine}|{config.model}|{json.dumps(self.model_config, sort_keys=True)}")
        self.partners = mixup_partners(len(train), train.groups)
        self.start_epoch = 0
        self.history: list[dict[str, Any]] = []
        self.best: dict[str, Any] = {"val_acc": -1.0, "epoch": 0}
        if resume:
            self._resume()

    # -- state -----------------------------------------------------------------------------------
    def _modules(self) -> dict[str, nn.Module]:
        modules: dict[str, nn.Module] = {"net": self.learner.net}
        if self.learner.projection is not None:
            modules["projection"] = self.learner.projection
        if self.ema is not None:
            modules["ema"] = self.ema
        return modules

    def _resume(self) -> None:
        tensors, state = load_checkpoint(self.run_dir)
        try:
            for prefix, module in self._modules().items():
                module.load_state_dict(module_state(tensors, prefix))
            self.optimizer.load_state_dict(unflatten_optimizer(tensors, state["optimizer"]))
        except (RuntimeError, ValueError, KeyError) as exc:
            raise RtferError(f"the checkpoint in {self.run_dir} does not fit this model or data: "
                             f"{str(exc)[:200]}") from None
        if self.plateau is not None:
            self.plateau.load_state_dict(state["plateau"])
        torch.set_rng_state(tensors["rng.torch"])
        self.start_epoch = state["epoch"]
        self.history = state["history"]
        self.best = state["best"]
        self.mean, self.std = state["mean"], state["std"]
        log.info("resuming %s after epoch %d", self.run_dir, self.start_epoch)

    def _eval_net(self) -> nn.Module:
        return self.ema.module if self.ema is not None else self.learner.net

    def _meta(self, metrics: dict[str, Any]) -> WeightsMeta:
        return WeightsMeta(
            model=self.config.model, config=self.model_config, labels=self.labels,
            input_size=self.input_size, in_chans=1, mean=self.mean, std=self.std,
            scheme=self.train_data.scheme.name,
            training={"config": asdict(self.config), "data": self.data_description,
                      "train_faces": len(self.train_data), "class_counts": self.train_data.class_counts()},
            metrics=metrics,
            command=" ".join(shlex.quote(a) for a in ["rtfer", *sys.argv[1:]]) if sys.argv else "",
        )

    # -- loop ------------------------------------------------------------------------------------
    def fit(self) -> dict[str, Any]:
        """Train to ``config.epochs``; returns the final summary (also in ``summary.json``)."""
        if self.dist.main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        started = time.time()
        for epoch in range(self.start_epoch, self.config.epochs):
            t0 = time.time()
            stage = "supcon" if epoch < (self.config.pretrain_epochs or 0) else "ce"
            train_loss, train_acc, lr = self._train_epoch(epoch, stage)
            row: dict[str, Any] = {"epoch": epoch + 1, "stage": stage, "lr": lr, "train_loss": train_loss,
                                   "train_acc": train_acc}
            if self.val_data is not None:
                report, val_loss, _ = self.evaluate(self.val_data)
                row.update(val_loss=val_loss, val_acc=report["accuracy"], val_macro_f1=report["macro_f1"])
            row["seconds"] = round(time.time() - t0, 1)
            if self.plateau is not None and stage == "ce" and epoch + 1 >= self.config.warmup_epochs:
                if epoch < self.config.warmup_epochs:  # warm-up ended in this epoch: from the full rate on
                    for group in self.optimizer.param_groups:
                        group["lr"] = self.config.lr
                self.plateau.step(row["val_acc"])
            self.history.append(row)
            self._select(row, stage, epoch)
            if self.dist.main:
                self._write_epoch()
            remaining = (time.time() - started) / (epoch + 1 - self.start_epoch) * (self.config.epochs - epoch - 1)
            log.info("epoch %d/%d %s loss %.4f acc %.4f%s (%.0fs, ETA %.0f min)", epoch + 1, self.config.epochs,
                     stage, train_loss, train_acc,
                     f" val acc {row['val_acc']:.4f} f1 {row['val_macro_f1']:.4f}" if "val_acc" in row else "",
                     row["seconds"], remaining / 60)
        return self._finish(time.time() - started)

    def _train_epoch(self, epoch: int, stage: str) -> tuple[float, float, float]:
        config = self.config
        self.model.train()
        generator = torch.Generator().manual_seed(config.seed * 1000 + epoch)
        order = torch.randperm(len(self.images), generator=generator)[self.dist.rank::self.dist.world]
        steps = len(order) // config.batch_size
        if steps == 0:
            raise RtferError(f"{len(order)} training faces are fewer than one batch of {config.batch_size}")
        two_views = config.supcon == "joint" or stage == "supcon"
        total_loss = total_correct = total_seen = 0.0
        bar = tqdm(range(steps), desc=f"epoch {epoch + 1}/{config.epochs}", unit="batch", leave=False,
                   disable=not (self.show_progress and self.dist.main),
                   mininterval=1.0 if sys.stderr.isatty() else 60.0)
        lr = config.lr
        for step in bar:
            if self.plateau is None or epoch + step / steps < config.warmup_epochs:
                lr = config.lr * lr_factor(config, epoch + step / steps)
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
            lr = self.optimizer.param_groups[0]["lr"]
            index = order[step * config.batch_size:(step + 1) * config.batch_size]
            faces = to_float(self.images[index]).to(self.device, non_blocking=True)
            targets = self.targets[index].to(self.device)
            soft = F.one_hot(targets, len(self.labels)).float()
            if config.mixup > 0:
                faces, soft = self._mixup(index, faces, soft)
            with torch.no_grad():
                views = [self.augment(faces) for _ in range(2 if two_views else 1)]
                batch = (torch.cat(views) - self.mean) / self.std
            if self.device.type == "cuda":
                batch = batch.contiguous(memory_format=torch.channels_last)
            all_targets = targets.repeat(len(views))
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
                logits, intensity, embedding = self.model(batch)
            ce = self._classification_loss(logits.float(), soft.repeat(len(views), 1))
            if self.teacher is not None:
                ce = (1 - config.distil_weight) * ce + config.distil_weight * distillation_loss(
                    logits.float(), self.teacher[index].to(self.device).repeat(len(views), 1),
                    config.distil_temperature)
            if embedding is not None and two_views:
                pairs = embedding.float().view(len(views), len(index), -1).transpose(0, 1)
                contrastive = supcon_loss(pairs, targets, config.temperature)
                # the 0 * ce keeps the classifier in the graph while it is not trained (DDP needs that)
                loss = contrastive + 0.0 * ce if stage == "supcon" else ce + config.supcon_weight * contrastive
            else:
                loss = ce
            if intensity is not None:
                loss = loss + config.intensity_weight * F.binary_cross_entropy_with_logits(
                    intensity.float(), soft.repeat(len(views), 1))
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            if self.ema is not None:
                self.ema.update_parameters(self.learner.net)
            total_loss += loss.item() * len(index)
            total_correct += (logits.argmax(1) == all_targets).float().mean().item() * len(index)
            total_seen += len(index)
            bar.set_postfix(loss=f"{total_loss / total_seen:.3f}", acc=f"{total_correct / total_seen:.3f}",
                            refresh=False)
        return total_loss / total_seen, total_correct / total_seen, lr

    def _mixup(self, index: torch.Tensor, faces: torch.Tensor, soft: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Blend a ``mixup`` share of the faces with partner faces; targets become the blend proportions."""
        blended = torch.rand(len(index)) < self.config.mixup
        lam = torch.where(blended, torch.rand(len(index)), torch.ones(len(index))).to(self.device)
        partner = self.partners(index)
        other = to_float(self.images[partner]).to(self.device)
        other_soft = F.one_hot(self.targets[partner].to(self.device), len(self.labels)).float()
        mixed = lam.view(-1, 1, 1, 1) * faces + (1 - lam.view(-1, 1, 1, 1)) * other
        return mixed, lam.view(-1, 1) * soft + (1 - lam.view(-1, 1)) * other_soft

    def _classification_loss(self, logits: torch.Tensor, soft: torch.Tensor) -> torch.Tensor:
        """Cross-entropy against soft targets, with label smoothing and class weights as configured."""
        classes = soft.shape[1]
        smoothed = soft * (1 - self.config.label_smoothing) + self.config.label_smoothing / classes
        per_class = -F.log_softmax(logits, dim=1) * smoothed
        if self.weights is None:
            return per_class.sum(1).mean()
        per_class = per_class * self.weights
        return per_class.sum() / (soft * self.weights).sum()  # as F.cross_entropy normalises weighted CE

    def evaluate(self, data: FaceDataset, tta: bool = False, net: nn.Module | None = None
                 ) -> tuple[dict[str, Any], float, np.ndarray]:
        """Report, mean CE loss and probabilities on ``data`` (of the live EMA/net unless ``net``)."""
        net = net or self._eval_net()
        logits = torch.from_numpy(predict_logits(net, data.images, self.mean, self.std, tta=tta,
                                                 device=self.device))
        targets = torch.from_numpy(data.labels)
        loss = float(F.cross_entropy(logits, targets))
        probs = torch.softmax(logits, 1).numpy()
        return classification_report(data.labels, probs.argmax(1), self.labels), loss, probs

    def _select(self, row: dict[str, Any], stage: str, epoch: int) -> None:
        if stage != "ce" or not self.dist.main:
            return
        last_epoch = epoch + 1 == self.config.epochs
        better = "val_acc" in row and row["val_acc"] > self.best["val_acc"]
        if (self.config.select == "best" and (better or self.val_data is None)) or \
                (self.config.select == "last" and last_epoch):
            self.best = {"val_acc": row.get("val_acc", -1.0), "epoch": epoch + 1}
            save_weights(self.run_dir / "best.safetensors", self._eval_net(), self._meta({"epoch": epoch + 1}))

    def _write_epoch(self) -> None:
        with (self.run_dir / "history.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=HISTORY_FIELDS)
            writer.writeheader()
            for row in self.history:
                writer.writerow({k: row.get(k, "") for k in HISTORY_FIELDS})
        plot_curves(self.history, self.run_dir / "curves.png")
        save_checkpoint(self.run_dir, self._modules(), self.optimizer, {
            "epoch": len(self.history), "config": asdict(self.config), "history": self.history,
            "best": self.best, "mean": self.mean, "std": self.std, "labels": self.labels,
            "data": self.data_description,
            **({"plateau": self.plateau.state_dict()} if self.plateau is not None else {}),
        })

    def _finish(self, seconds: float) -> dict[str, Any]:
        summary: dict[str, Any] = {"run_dir": str(self.run_dir), "epochs": self.config.epochs,
                                   "best_epoch": self.best["epoch"], "train_seconds": round(seconds, 1)}
        if self.dist.main and (self.run_dir / "best.safetensors").is_file() and self.val_data is not None:
            net, meta = load_model(self.run_dir / "best.safetensors", device=self.device)
            report, loss, probs = self.evaluate(self.val_data, net=net)
            tta_report, _, _ = self.evaluate(self.val_data, tta=True, net=net)
            report["val_loss"] = loss
            summary.update(val=report, val_tta_accuracy=tta_report["accuracy"])
            meta.metrics = {"val_accuracy": report["accuracy"], "val_macro_f1": report["macro_f1"],
                            "val_tta_accuracy": tta_report["accuracy"], "epoch": self.best["epoch"],
                            "val_data": self.data_description.get("val", "")}
            save_weights(self.run_dir / "best.safetensors", net, meta)
            (self.run_dir / "val_report.json").write_text(json.dumps(report, indent=1))
            plot_confusion(report["confusion"], self.labels, self.run_dir / "confusion.png",
                           f"val accuracy {report['accuracy']:.3f}")
            plot_error_gallery(self.val_data.images, self.val_data.labels, probs, self.labels,
                               self.run_dir / "errors.png")
        if self.dist.main:
            (self.run_dir / "summary.json").write_text(json.dumps(summary, indent=1))
        if self.dist.world > 1:
            dist.barrier()
        return summary
