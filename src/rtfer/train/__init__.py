"""Training: losses, augmentation, the trainer, cross-validation, metrics and plots.

Only training needs this package (and kornia); inference never imports it.
"""

#: Supervised contrastive modes of the trainer (see ``rtfer.train.trainer``).
SUPCON_MODES = ("off", "joint", "two-stage")

#: Numeric precision of training forward passes (see ``rtfer.train.trainer.use_bf16``).
PRECISIONS = ("auto", "fp32", "bf16")
