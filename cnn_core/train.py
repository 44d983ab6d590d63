"""Training: a frozen `TrainConfig`, one epoch of training, an evaluation, and `fit` that runs them.

Fast on small data: the splits live as tensors on the device and batches are taken by index (no
per-item Dataset), convolutions run channels-last, evaluation runs under inference mode in big
batches, and the loss is summed on tensors (no sync per step). Progress leaves through callbacks.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cnn_core.config import JsonConfig

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("none", "step", "cosine", "one_cycle")
PRECISIONS = ("auto", "fp32", "bf16")
EVAL_BATCH = 1024  # images per forward pass when evaluating: no gradients, so big batches are cheap
DIVERGED = "the loss diverged (it became NaN or infinite): try a smaller learning rate"


@dataclass(frozen=True)
class TrainConfig(JsonConfig):
    optimizer: str = "adam"  # "sgd" (with momentum and Nesterov), "adam" or "adamw"
    lr: float = 1e-3  # learning rate: the size of each step down the loss (the peak for one-cycle)
    momentum: float = 0.9  # SGD only: the share of the previous step carried into the next
    weight_decay: float = 1e-4  # pulls every weight toward 0 at each step (decoupled from the loss in AdamW)
    schedule: str = "step"  # how the rate changes over the epochs: "none", "step", "cosine" or "one_cycle"
    step_size: int = 10  # step schedule: epochs between two cuts of the rate
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
        for name, allowed in (("optimizer", OPTIMIZERS), ("schedule", SCHEDULES), ("precision", PRECISIONS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"unknown {name} {getattr(self, name)!r}; expected one of {', '.join(allowed)}")
        _check(self.lr > 0 and math.isfinite(self.lr), f"the learning rate must be above 0, got {self.lr}")
        _check(0 <= self.momentum < 1, f"momentum must be at least 0 and below 1, got {self.momentum}")
        _check(0 <= self.weight_decay < 1, f"weight decay must be at least 0 and below 1, got {self.weight_decay}")
        _check(self.step_size >= 1, f"the step schedule's step size must be at least 1 epoch, got {self.step_size}")
        _check(0 < self.gamma <= 1, f"the step schedule's factor must be above 0 and at most 1, got {self.gamma}")
        _check(self.batch_size >= 1, f"the batch size must be at least 1, got {self.batch_size}")
        _check(1 <= self.epochs <= 1000, f"epochs must be between 1 and 1000, got {self.epochs}")
        _check(0 <= self.label_smoothing < 1, f"label smoothing must be at least 0 and below 1, got {self.label_smoothing}")
        _check(self.patience >= 0, f"patience must be 0 (off) or more epochs, got {self.patience}")
        _check(0 <= self.rotation <= 180, f"rotation must be between 0 and 180 degrees, got {self.rotation}")
        _check(0 <= self.translate <= 0.5, f"translation must be between 0 and 0.5 of the image, got {self.translate}")
        _check(0.1 <= self.crop_scale <= 1, f"the crop scale must be between 0.1 and 1, got {self.crop_scale}")
        _check(0 <= self.color_jitter <= 1, f"colour jitter must be between 0 and 1, got {self.color_jitter}")

    def summary(self) -> str:
        """E.g. 'adam lr 0.001, step, batch 32, 30 epochs'."""
        extras = [f"wd {self.weight_decay:g}"] if self.weight_decay else []
        extras += ["early stop"] if self.patience else []
        extras += ["augmented"] if augmented(self) else []
        text = (f"{self.optimizer} lr {self.lr:g}, {self.schedule.replace('_', '-')}, batch {self.batch_size}, "
                f"{self.epochs} epochs")
        return ", ".join([text, *extras])


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def augmented(cfg: TrainConfig) -> bool:
    return bool(cfg.rotation or cfg.hflip or cfg.translate or cfg.crop_scale < 1 or cfg.color_jitter)


# ---------------------------------------------------------------- building blocks


def resolve_precision(choice: str, device) -> str:
    """"auto" → "bf16" on hardware with native bfloat16 (AVX512-BF16/AMX CPUs, recent GPUs), else "fp32"."""
    import torch

    if choice != "auto":
        return choice
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu":
        native = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
        has_bf16 = getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
        has_amx = getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
        return "bf16" if native is not None and native() and (has_bf16() or has_amx()) else "fp32"
    return "fp32"


def make_optimizer(model, cfg: TrainConfig):
    import torch

    params = list(model.parameters())
    # One fused kernel per step instead of a dozen ops per tensor: measured ~5% faster per epoch on CPU.
    fused = params[0].device.type in ("cpu", "cuda")
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.momentum > 0,
                               weight_decay=cfg.weight_decay, fused=fused)  # fmt: skip
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=fused)
    return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=fused)


def make_scheduler(optimizer, cfg: TrainConfig, steps_per_epoch: int):
    """The learning-rate schedule, or None; one-cycle steps after every batch, the others after every epoch."""
    from torch.optim import lr_scheduler

    if cfg.schedule == "step":
        return lr_scheduler.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
    if cfg.schedule == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs)
    if cfg.schedule == "one_cycle":
        return lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, epochs=cfg.epochs, steps_per_epoch=steps_per_epoch)
    return None


def batches(n: int, batch_size: int, generator, device) -> list:
    """Shuffled index batches; a last batch of one image is dropped (batch norm can't train on one)."""
    import torch

    order = torch.randperm(n, generator=generator).to(device)
    parts = list(order.split(batch_size))
    if len(parts) > 1 and len(parts[-1]) == 1:
        parts.pop()
    return parts


def train_epoch(model, optimizer, scheduler, images, labels, cfg: TrainConfig, *, generator,
                augment=None, stop: Callable[[], bool] = lambda: False,
                on_batch: Callable[[int, int], None] | None = None) -> tuple[float, float, bool]:  # fmt: skip
    """One pass over the training tensors; (mean loss, accuracy, stopped early)."""
    import torch
    import torch.nn.functional as F

    model.train()
    autocast = torch.autocast(images.device.type, torch.bfloat16, enabled=cfg.precision == "bf16")
    parts = batches(len(labels), cfg.batch_size, generator, images.device)
    total_loss = torch.zeros((), device=images.device)
    correct = torch.zeros((), dtype=torch.long, device=images.device)
    seen = 0
    for i, idx in enumerate(parts):
        if stop():
            break
        x, y = images[idx], labels[idx]  # (B, C, H, W), (B,)
        if augment is not None:
            x = augment(x).contiguous(memory_format=torch.channels_last)
        optimizer.zero_grad(set_to_none=True)
        with autocast:
            logits = model(x)
            loss = F.cross_entropy(logits, y, label_smoothing=cfg.label_smoothing)
        loss.backward()
        optimizer.step()
        if cfg.schedule == "one_cycle":
            scheduler.step()
        total_loss += loss.detach().float() * len(y)
        correct += (logits.detach().argmax(1) == y).sum()
        seen += len(y)
        if on_batch is not None:
            on_batch(i + 1, len(parts))
    stopped = seen < sum(len(p) for p in parts)
    seen = max(seen, 1)
    return total_loss.item() / seen, correct.item() / seen, stopped



def evaluate(model, images, labels, batch_size: int = EVAL_BATCH, precision: str = "fp32") -> tuple[float, float]:
    """(mean cross-entropy, accuracy) in eval mode, under inference mode, in the run's precision."""
    import torch
    import torch.nn.functional as F

    model.eval()
    autocast = torch.autocast(images.device.type, torch.bfloat16, enabled=precision == "bf16")
    with torch.inference_mode(), autocast:  # as @torch.inference_mode(), but keeps this module's import torch-free
        total_loss = torch.zeros((), device=images.device)
        correct = torch.zeros((), dtype=torch.long, device=images.device)
        for x, y in zip(images.split(batch_size), labels.split(batch_size)):
            logits = model(x)
            total_loss += F.cross_entropy(logits.float(), y, reduction="sum")
            correct += (logits.argmax(1) == y).sum()
    n = max(len(labels), 1)
    return total_loss.item() / n, correct.item() / n


# ---------------------------------------------------------------- a whole run


def _as_stop(stop) -> Callable[[], bool]:
    """A threading.Event, a callable or None → a callable answering "stop now?"."""
    if stop is None:
        return lambda: False
    return stop.is_set if hasattr(stop, "is_set") else stop


def _cpu_state(model) -> dict[str, Any]:
    """A detached, contiguous CPU copy of the weights (channels-last undone), safe to keep and save."""
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}


def to_tensors(images, labels, device, channels_last: bool):
    import numpy as np
    import torch

    x = torch.as_tensor(np.ascontiguousarray(images, dtype=np.float32)).to(device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x, torch.as_tensor(np.asarray(labels, dtype=np.int64)).to(device)


def fit(spec, dataset, cfg: TrainConfig, *, device=None, stop=None,
        on_epoch: Callable[[dict[str, float]], None] | None = None,
        on_batch: Callable[[int, int], None] | None = None):  # fmt: skip
    """Train a model built from `spec` on `dataset`'s train split; a `TrainedRun` (finished or stopped).

    `stop` (a threading.Event or a callable) is checked before every batch; the model trained so far
    is kept. `on_epoch` receives each epoch's metrics as soon as it ends.
    """
    import torch

    from cnn_core.cache import run_key
    from cnn_core.checkpoint import TrainedRun
    from cnn_core.device import describe_device, detect_device
    from cnn_core.spec import build_model, check_fits

    device = torch.device(device) if device is not None and not isinstance(device, str) else detect_device(device or "auto")
    check_fits(spec, dataset.input_shape, dataset.classes, "move the spec onto the dataset with spec.with_io(...)")
    if len(dataset.splits["val"]) == 0:
        raise ValueError("the dataset has no validation images: set a validation share above 0")
    should_stop = _as_stop(stop)
    precision = resolve_precision(cfg.precision, device)
    channels_last = device.type in ("cpu", "cuda")  # faster convolutions on oneDNN and on tensor cores
    run_cfg = cfg if precision == cfg.precision else TrainConfig.from_dict({**cfg.to_dict(), "precision": precision})

    torch.manual_seed(cfg.seed)  # initial weights; dropout and augmentation draw from the same stream
    generator = torch.Generator().manual_seed(cfg.seed)  # shuffling, on its own stream
    model = build_model(spec).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    x_train, y_train = to_tensors(*dataset.split("train"), device, channels_last)
    x_val, y_val = to_tensors(*dataset.split("val"), device, channels_last)
    steps_per_epoch = len(batches(len(y_train), cfg.batch_size, torch.Generator(), "cpu"))
    optimizer = make_optimizer(model, cfg)
    scheduler = make_scheduler(optimizer, cfg, steps_per_epoch)
    augment = None
    if augmented(cfg):
        from cnn_core.augment import make_augment

        augment = make_augment(cfg, dataset.input_shape)

    history: list[dict[str, float]] = []
    status, reason = "completed", f"trained all {cfg.epochs} epoch{'s' * (cfg.epochs != 1)}"
    good_state, best_state, best_loss, since_best = _cpu_state(model), None, math.inf, 0
    start = time.perf_counter()
    for epoch in range(1, cfg.epochs + 1):
        t0 = time.perf_counter()
        lr = optimizer.param_groups[0]["lr"]
        train_loss, train_acc, stopped = train_epoch(
            model, optimizer, scheduler, x_train, y_train, run_cfg, generator=generator, augment=augment,
            stop=should_stop, on_batch=on_batch)  # fmt: skip
        if stopped:
            status, reason = "stopped", f"stopped by the user during epoch {epoch}"
            break
        if not math.isfinite(train_loss):
            model.load_state_dict(good_state)
            status, reason = "diverged", f"{DIVERGED} (in epoch {epoch})"
            break
        val_loss, val_acc = evaluate(model, x_val, y_val, precision=precision)
        if scheduler is not None and cfg.schedule != "one_cycle":
            scheduler.step()
        record = dict(epoch=epoch, train_loss=train_loss, train_acc=train_acc, val_loss=val_loss,
                      val_acc=val_acc, lr=lr, seconds=time.perf_counter() - t0)  # fmt: skip
        history.append(record)
        if on_epoch is not None:
            on_epoch(record)
        good_state = _cpu_state(model)
        if cfg.patience:
            if val_loss < best_loss:
                best_state, best_loss, since_best = good_state, val_loss, 0
            else:
                since_best += 1
            if since_best >= cfg.patience:
                model.load_state_dict(best_state)
                best_epoch = epoch - since_best
                status = "early stopping"
                reason = f"the validation loss did not improve for {cfg.patience} epochs: kept epoch {best_epoch}"
                break
        if should_stop():
            status, reason = "stopped", f"stopped by the user after epoch {epoch}"
            break
    train_seconds = time.perf_counter() - start

    val_loss, val_acc = evaluate(model, x_val, y_val, precision=precision)
    summary = dict(
        val_acc=val_acc, val_loss=val_loss, best_val_acc=max([h["val_acc"] for h in history], default=val_acc),
        epochs_run=len(history), train_seconds=train_seconds, device=device.type,
        device_name=describe_device(device), precision=precision,
        params=sum(p.numel() for p in model.parameters()), status=status, reason=reason,
    )  # fmt: skip
    state = _cpu_state(model)
    return TrainedRun(spec, dataset.config, cfg.to_dict(), state, history, summary, run_key(dataset.config, spec, cfg))


def suggested_config(data_config) -> TrainConfig:
    """Defaults that train well on a dataset within a minute or so: the classic recipe, shortened on big data."""
    n_images = len(data_config.classes) * data_config.n_per_class
    epochs = 10 if n_images <= 5000 else 5
    return TrainConfig(epochs=epochs, step_size=max(1, epochs * 2 // 3))
