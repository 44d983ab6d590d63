"""The training engine: `prepare` a run, a `train_epoch`/`evaluate` pair, and `fit` that loops over epochs.

Fast on small data: the splits live as tensors on the device and batches are taken by index (no
per-item Dataset), convolutions run channels-last, evaluation runs under inference mode in big
batches, and the loss is summed on tensors (no sync per step). Progress leaves through callbacks.
A run's randomness is its own: `torch.Generator`s seeded from the config shuffle and augment; the
initial weights and dropout draw from torch's global stream, seeded here (each run owns its process).
About 280 lines: setting a run up, the train/evaluate pair and the loop that uses them read best together.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cnn_core.training.config import PER_BATCH_SCHEDULES, TrainConfig
from cnn_core.training.device import resolve_precision

# Images per forward pass when evaluating. Bigger batches don't run faster on a CPU, and activations of hundreds of
# images (26 MB a layer for 200 images of 32×32) are fresh memory the kernel must map on every pass: batches of 1024
# cost the classic recipe's validation pass about twice the CPU time of batches of 64 (benchmarks/bench_floor.py).
EVAL_BATCH = 64


# ---------------------------------------------------------------- setting a run up


def make_optimizer(model, cfg: TrainConfig):
    from cnn_core.training import optimizers as optim  # torch.optim's, without importing TorchDynamo

    params = list(model.parameters())
    # One fused kernel per step instead of a dozen ops per tensor: measured ~5% faster per epoch on CPU.
    fused = params[0].device.type in ("cpu", "cuda")
    if cfg.optimizer == "sgd":
        return optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.momentum > 0,
                         weight_decay=cfg.weight_decay, fused=fused)  # fmt: skip
    if cfg.optimizer == "adam":
        return optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=fused)
    return optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=fused)


def make_scheduler(optimizer, cfg: TrainConfig, steps_per_epoch: int):
    """The learning-rate schedule, or None; see PER_BATCH_SCHEDULES for when it steps."""
    from torch.optim import lr_scheduler

    if cfg.schedule == "step":
        return lr_scheduler.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
    if cfg.schedule == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs)
    if cfg.schedule == "one_cycle":
        return lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, epochs=cfg.epochs, steps_per_epoch=steps_per_epoch)
    return None


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Batches in an epoch of n images; a lone last image is dropped (batch norm can't train on one)."""
    full, rest = divmod(n, batch_size)
    return full + (rest > 1 or (rest == 1 and full == 0))


def batches(n: int, batch_size: int, generator, device) -> list:
    """Shuffled index batches, `steps_per_epoch` of them."""
    import torch

    order = torch.randperm(n, generator=generator).to(device)
    return list(order.split(batch_size))[: steps_per_epoch(n, batch_size)]


def to_tensors(images, labels, device, channels_last: bool):
    import numpy as np
    import torch

    x = torch.as_tensor(np.ascontiguousarray(images, dtype=np.float32)).to(device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x, torch.as_tensor(np.asarray(labels, dtype=np.int64)).to(device)


@dataclass
class Setup:
    """Everything one run trains with, built once by `prepare`; the loop only reads it."""

    cfg: TrainConfig  # as asked, with "auto" precision resolved
    device: Any
    model: Any
    optimizer: Any
    batch_scheduler: Any  # steps after every batch, or None
    epoch_scheduler: Any  # steps after every epoch, or None
    train: tuple[Any, Any]  # (images, labels) on the device
    val: tuple[Any, Any]
    shuffle: Any  # torch.Generator for the batch order
    augment: Callable | None  # images → augmented images, drawing from the run's own generator


def prepare(spec, dataset, cfg: TrainConfig, device) -> Setup:
    """Check the inputs, seed, and build the model, tensors, optimizer, schedule and augmentation of a run."""
    import torch

    from cnn_core.nets.build import build_model, check_fits
    from cnn_core.training.augment import make_augment
    from cnn_core.training.device import detect_device

    device = torch.device(device) if device is not None and not isinstance(device, str) else detect_device(device or "auto")
    check_fits(spec, dataset.input_shape, dataset.classes, "move the spec onto the dataset with spec.with_io(...)")
    if len(dataset.splits["val"]) == 0:
        raise ValueError("the dataset has no validation images: set a validation share above 0")
    precision = resolve_precision(cfg.precision, device)
    cfg = cfg if precision == cfg.precision else TrainConfig.from_dict({**cfg.to_dict(), "precision": precision})
    channels_last = device.type in ("cpu", "cuda")  # faster convolutions on oneDNN and on tensor cores

    torch.manual_seed(cfg.seed)  # the initial weights and dropout
    model = build_model(spec, for_training=True).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    train = to_tensors(*dataset.split("train"), device, channels_last)
    val = to_tensors(*dataset.split("val"), device, channels_last)
    optimizer = make_optimizer(model, cfg)
    scheduler = make_scheduler(optimizer, cfg, steps_per_epoch(len(train[1]), cfg.batch_size))
    per_batch = cfg.schedule in PER_BATCH_SCHEDULES
    augment_stream = torch.Generator().manual_seed(cfg.seed + 1)  # apart from the order: augmenting doesn't reshuffle
    return Setup(
        cfg=cfg, device=device, model=model, optimizer=optimizer,
        batch_scheduler=scheduler if per_batch else None, epoch_scheduler=None if per_batch else scheduler,
        train=train, val=val, shuffle=torch.Generator().manual_seed(cfg.seed),
        augment=make_augment(cfg, dataset.input_shape, augment_stream),
    )  # fmt: skip


# ---------------------------------------------------------------- train and evaluate


def train_epoch(s: Setup, *, stop: Callable[[], bool], on_batch: Callable[[int, int], None] | None = None
                ) -> tuple[float, float, bool]:  # fmt: skip
    """One pass over the training tensors; (mean loss, accuracy, stopped early)."""
    import torch
    import torch.nn.functional as F

    images, labels = s.train
    s.model.train()
    autocast = torch.autocast(images.device.type, torch.bfloat16, enabled=s.cfg.precision == "bf16")
    parts = batches(len(labels), s.cfg.batch_size, s.shuffle, images.device)
    total_loss = torch.zeros((), device=images.device)
    correct = torch.zeros((), dtype=torch.long, device=images.device)
    seen = 0
    for i, idx in enumerate(parts):
        if stop():
            return _mean(total_loss, seen), _mean(correct, seen), True
        x, y = images[idx], labels[idx]  # (B, C, H, W), (B,)
        if s.augment is not None:
            x = s.augment(x).contiguous(memory_format=torch.channels_last)
        s.optimizer.zero_grad(set_to_none=True)
        with autocast:
            logits = s.model(x)
            loss = F.cross_entropy(logits, y, label_smoothing=s.cfg.label_smoothing)
        loss.backward()
        s.optimizer.step()
        if s.batch_scheduler is not None:
            s.batch_scheduler.step()
        total_loss += loss.detach().float() * len(y)
        correct += (logits.detach().argmax(1) == y).sum()
        seen += len(y)
        if on_batch is not None:
            on_batch(i + 1, len(parts))
    return _mean(total_loss, seen), _mean(correct, seen), False


def _mean(total, count: int) -> float:
    return total.item() / max(count, 1)


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
    return _mean(total_loss, len(labels)), _mean(correct, len(labels))


# ---------------------------------------------------------------- a whole run


def _as_stop(stop) -> Callable[[], bool]:
    """A threading.Event, a callable or None → a callable answering "stop now?"."""
    if stop is None:
        return lambda: False
    return stop.is_set if hasattr(stop, "is_set") else stop


def _cpu_state(model) -> dict[str, Any]:
    """A detached, contiguous CPU copy of the weights (channels-last undone), safe to keep and save."""
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}


def fit(spec, dataset, cfg: TrainConfig, *, device=None, stop=None,
        on_epoch: Callable[[dict[str, float]], None] | None = None,
        on_batch: Callable[[int, int], None] | None = None):  # fmt: skip
    """Train a model built from `spec` on `dataset`'s train split; a `TrainedRun` (finished or stopped).

    `stop` (a threading.Event or a callable) is checked before every batch; the model trained so far
    is kept. `on_epoch` receives each epoch's metrics as soon as it ends. A non-finite loss ends the
    run with the weights of the last epoch whose losses were all finite.
    """
    from cnn_core.training import outcome
    from cnn_core.training.device import describe_device
    from cnn_core.training.run import TrainedRun, run_key

    s = prepare(spec, dataset, cfg, device)
    should_stop = _as_stop(stop)
    history: list[dict[str, float]] = []
    status, reason = "completed", f"trained all {cfg.epochs} epoch{'s' * (cfg.epochs != 1)}"
    good_state, best = _cpu_state(s.model), outcome.Best(cfg.patience)
    kept = None  # the history record of the weights the model holds, when they are those an epoch ended with
    start = time.perf_counter()
    for epoch in range(1, cfg.epochs + 1):
        t0, lr = time.perf_counter(), s.optimizer.param_groups[0]["lr"]
        train_loss, train_acc, stopped = train_epoch(s, stop=should_stop, on_batch=on_batch)
        if stopped:
            status, reason = "stopped", f"stopped by the user during epoch {epoch}"
            break
        val_loss, val_acc = evaluate(s.model, *s.val, precision=s.cfg.precision)
        if not (math.isfinite(train_loss) and math.isfinite(val_loss)):
            s.model.load_state_dict(good_state)
            status, reason = "diverged", outcome.diverged(epoch, train_loss, val_loss)
            break
        if s.epoch_scheduler is not None:
            s.epoch_scheduler.step()
        record = dict(epoch=epoch, train_loss=train_loss, train_acc=train_acc, val_loss=val_loss,
                      val_acc=val_acc, lr=lr, seconds=time.perf_counter() - t0)  # fmt: skip
        history.append(record)
        if on_epoch is not None:
            on_epoch(record)
        good_state, kept = _cpu_state(s.model), record
        if best.update(epoch, val_loss, good_state):
            s.model.load_state_dict(best.state)
            kept = history[best.epoch - 1]
            status, reason = "early stopping", best.reason()
            break
        if should_stop():
            status, reason = "stopped", f"stopped by the user after epoch {epoch}"
            break
    train_seconds = time.perf_counter() - start

    if kept is None:  # stopped within an epoch, diverged, or no epoch ran: the weights kept are not yet measured
        val_loss, val_acc = evaluate(s.model, *s.val, precision=s.cfg.precision)
    else:  # measured at that epoch's end, by the same deterministic pass
        val_loss, val_acc = kept["val_loss"], kept["val_acc"]
    test_split, test_acc = held_out_accuracy(s, dataset, val_acc if s.cfg.precision == "fp32" else None)
    if status in ("completed", "early stopping"):
        labels = s.val[1].cpu().numpy()
        warning = outcome.learned_nothing(dataset.num_classes, history, val_acc, labels)
        few = outcome.too_few_to_judge(labels, val_acc)  # e.g. 67 % on 6 images: neither chance nor proven
        status, reason = ("unstable", warning) if warning else (status, f"{reason}; {few}" if few else reason)
    summary = dict(
        val_acc=val_acc, val_loss=val_loss, best_val_acc=max([h["val_acc"] for h in history], default=val_acc),
        epochs_run=len(history), train_seconds=train_seconds, device=s.device.type,
        device_name=describe_device(s.device), precision=s.cfg.precision,
        params=sum(p.numel() for p in s.model.parameters()), status=status, reason=reason,
        test_acc=test_acc, test_split=test_split,
    )  # fmt: skip
    return TrainedRun(spec, dataset.config, s.cfg.to_dict(), _cpu_state(s.model), history, summary,
                      run_key(dataset.config, spec, s.cfg))  # fmt: skip


def held_out_accuracy(s: Setup, dataset, val_acc_fp32: float | None = None) -> tuple[str, float]:
    """(split, accuracy) on the test images (validation when there are none), in fp32 as Evaluation measures it:
    the class board's score, stored with the run when it is registered. `val_acc_fp32`: the model's validation
    accuracy in fp32, if known (then a run without test images needs no second pass)."""
    split = "test" if len(dataset.splits["test"]) else "val"
    if split == "val" and val_acc_fp32 is not None:
        return split, val_acc_fp32
    tensors = s.val if split == "val" else to_tensors(*dataset.split("test"), s.device, s.device.type in ("cpu", "cuda"))
    return split, evaluate(s.model, *tensors, precision="fp32")[1]
