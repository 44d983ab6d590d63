"""What a training run is asked to do: the frozen `TrainConfig`, its choices, checks and suggested defaults."""

from __future__ import annotations

import math
from dataclasses import dataclass

from cnn_core.jsonconfig import JsonConfig, check_fields

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("none", "step", "cosine", "one_cycle")
PER_BATCH_SCHEDULES = ("one_cycle",)  # these step after every batch; the others after every epoch
PRECISIONS = ("auto", "fp32", "bf16")
CLASSIC_SPLIT = {"val_fraction": 0.2, "test_fraction": 0.0}  # the classic recipe's data: 80% to train, 20% to validate


@dataclass(frozen=True)
class TrainConfig(JsonConfig):
    CHOICES = {"optimizer": OPTIMIZERS, "schedule": SCHEDULES, "precision": PRECISIONS}

    optimizer: str = "adam"  # "sgd" (with momentum and Nesterov), "adam" or "adamw"
    lr: float = 1e-3  # learning rate: the size of each step down the loss (the peak for one-cycle)
    momentum: float = 0.9  # SGD only: the share of the previous step carried into the next
    weight_decay: float = 1e-4  # pulls every weight toward 0 at each step (decoupled from the loss in AdamW)
    schedule: str = "step"  # how the rate changes over the epochs: "none", "step", "cosine" or "one_cycle"
    step_size: int | None = None  # step schedule: epochs between two cuts of the rate; None: a third of the epochs
    gamma: float = 0.5  # step schedule: the factor of each cut
    batch_size: int = 32  # images per update of the weights
    epochs: int = 30  # passes over the training split (fewer if stopped early)
    label_smoothing: float = 0.0  # share of each target spread evenly over all classes (0 = hard labels)
    patience: int = 0  # early stopping: stop after this many epochs without a better validation loss; 0 = never
    rotation: float = 0.0  # augmentation: largest random rotation, in degrees either way
    hflip: bool = False  # augmentation: mirror half of the images left to right
    translate: float = 0.0  # augmentation: largest random shift, as a fraction of the image size
    crop_scale: float = 1.0  # augmentation: a random crop keeps at least this share of the area, resized back; 1 = off
    color_jitter: float = 0.0  # augmentation: largest relative change of brightness, contrast and saturation
    precision: str = "auto"  # "fp32"; "bf16" mixed precision; "auto": bf16 where the hardware does it natively
    seed: int = 0  # one seed for the initial weights, the shuffling, dropout and augmentation

    def __post_init__(self) -> None:
        check_fields(self)
        if not 1 <= self.epochs <= 1000:
            raise ValueError(f"epochs must be between 1 and 1000, got {self.epochs}")
        if self.step_size is None:  # filled in place, so equal runs have equal configs and keys
            object.__setattr__(self, "step_size", default_step_size(self.epochs))
        _validate(self)

    def summary(self) -> str:
        """E.g. 'adam lr 0.001, step, batch 32, 30 epochs'."""
        extras = [f"wd {self.weight_decay:g}"] if self.weight_decay else []
        extras += ["early stop"] if self.patience else []
        extras += ["augmented"] if augmented(self) else []
        text = (f"{self.optimizer} lr {self.lr:g}, {self.schedule.replace('_', '-')}, batch {self.batch_size}, "
                f"{self.epochs} epochs")
        return ", ".join([text, *extras])


def _validate(cfg: TrainConfig) -> None:
    if not (cfg.lr > 0 and math.isfinite(cfg.lr)):
        raise ValueError(f"the learning rate must be above 0, got {cfg.lr}")
    if not 0 <= cfg.momentum < 1:
        raise ValueError(f"momentum must be at least 0 and below 1, got {cfg.momentum}")
    if not 0 <= cfg.weight_decay < 1:
        raise ValueError(f"weight decay must be at least 0 and below 1, got {cfg.weight_decay}")
    if cfg.step_size < 1:
        raise ValueError(f"the step schedule's step size must be at least 1 epoch, got {cfg.step_size}")
    if not 0 < cfg.gamma <= 1:
        raise ValueError(f"the step schedule's factor must be above 0 and at most 1, got {cfg.gamma}")
    if cfg.batch_size < 1:
        raise ValueError(f"the batch size must be at least 1, got {cfg.batch_size}")
    if not 0 <= cfg.label_smoothing < 1:
        raise ValueError(f"label smoothing must be at least 0 and below 1, got {cfg.label_smoothing}")
    if cfg.patience < 0:
        raise ValueError(f"patience must be 0 (off) or more epochs, got {cfg.patience}")
    if not 0 <= cfg.rotation <= 180:
        raise ValueError(f"rotation must be between 0 and 180 degrees, got {cfg.rotation}")
    if not 0 <= cfg.translate <= 0.5:
        raise ValueError(f"translation must be between 0 and 0.5 of the image, got {cfg.translate}")
    if not 0.1 <= cfg.crop_scale <= 1:
        raise ValueError(f"the crop scale must be between 0.1 and 1, got {cfg.crop_scale}")
    if not 0 <= cfg.color_jitter <= 1:
        raise ValueError(f"colour jitter must be between 0 and 1, got {cfg.color_jitter}")
    if not 0 <= cfg.seed < 2**63:  # what torch.manual_seed takes
        raise ValueError(f"the seed must be a whole number from 0 to 2**63 - 1, got {cfg.seed}")


def default_step_size(epochs: int) -> int:
    """The step schedule's default: a cut after each third of the run (30 epochs: every 10, the classic recipe)."""
    return max(1, math.ceil(epochs / 3))


def augmented(cfg: TrainConfig) -> bool:
    return bool(cfg.rotation or cfg.hflip or cfg.translate or cfg.crop_scale < 1 or cfg.color_jitter)


MIN_STEPS = 150  # optimizer steps the defaults give any run: small data gets smaller batches and more epochs
MIN_BATCH, MAX_EPOCHS = 8, 100  # the Training page's smallest batch and most epochs


def suggested_config(data_config) -> TrainConfig:
    """Defaults that train well on a dataset within a minute or so: the classic recipe, shortened on big data, and
    on small data (the 48 faces of the example) at least MIN_STEPS weight updates: batches halved until an epoch
    has 4 of them (not below 8 images), then as many epochs as MIN_STEPS takes (at most 100)."""
    n_images = len(data_config.classes) * data_config.n_per_class
    base = TrainConfig(epochs=10 if n_images <= 5000 else 5)
    held_out = round(n_images * data_config.val_fraction) + round(n_images * data_config.test_fraction)
    n_train = max(1, n_images - held_out)
    batch = base.batch_size
    while batch > MIN_BATCH and math.ceil(n_train / batch) < 4:
        batch //= 2
    per_epoch = math.ceil(n_train / batch)
    epochs = max(base.epochs, min(MAX_EPOCHS, math.ceil(MIN_STEPS / per_epoch)))
    return TrainConfig(epochs=epochs, batch_size=batch)
