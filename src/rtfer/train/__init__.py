"""Training: losses, augmentation, the trainer, cross-validation, metrics and plots.

Only training needs this package (PyTorch, kornia: ``pip install "rtfer[train]"``); inference never
imports it. This file stays import-free, so the CLI can list the choices below on a base install.
"""

#: Supervised contrastive modes of the trainer (see ``rtfer.train.trainer``).
SUPCON_MODES = ("off", "joint", "two-stage")

#: Numeric precision of training forward passes (see ``rtfer.train.trainer.use_bf16``).
PRECISIONS = ("auto", "fp32", "bf16")

#: Learning-rate schedules: warm-up + cosine decay, or warm-up + ReduceLROnPlateau on val accuracy.
SCHEDULES = ("cosine", "plateau")

#: Training augmentation policies (see ``rtfer.train.augment``).
AUGMENT_POLICIES = ("fer", "brightness-blur")
