"""How a run ended, in words: divergence, early stopping's best epoch, and a run that learned nothing."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

DIVERGED = "the loss diverged (it became NaN or infinite): try a smaller learning rate"
TOO_LARGE = "the learning rate is probably too large"
ROSE = 1.5  # a loss above 1.5 × ln(classes) is well above where training starts
STILL = 0.9  # a loss above 0.9 × ln(classes) has hardly moved
FEW = 30  # fewer validation images than this can't tell a model that learned a little from luck


def diverged(epoch: int, train_loss: float, val_loss: float) -> str:
    """The reason of a run whose loss stopped being a finite number."""
    which = "training" if not math.isfinite(train_loss) else "validation"
    kept = f"the weights of epoch {epoch - 1}" if epoch > 1 else "the initial weights"
    return f"{DIVERGED} (the {which} loss in epoch {epoch}; kept {kept})"


class Best:
    """Early stopping: the epoch with the lowest validation loss so far, and its weights."""

    def __init__(self, patience: int):
        self.patience, self.epoch, self.loss, self.state = patience, 0, math.inf, None

    def update(self, epoch: int, val_loss: float, state: dict[str, Any]) -> bool:
        """Record a finished epoch (finite loss); True when `patience` epochs have passed without a better one."""
        if val_loss < self.loss:
            self.epoch, self.loss, self.state = epoch, val_loss, state
        return self.patience > 0 and epoch - self.epoch >= self.patience

    def reason(self) -> str:
        return f"the validation loss did not improve for {self.patience} epochs: kept epoch {self.epoch}"


def chance_level(val_labels: np.ndarray) -> tuple[float, float]:
    """(majority share, the accuracy a run must beat): always answering the most common validation class
    scores the majority share p; a run counts as better only above p plus two binomial standard errors."""
    n = max(len(val_labels), 1)
    p = float(np.bincount(np.asarray(val_labels)).max() / n) if len(val_labels) else 0.0
    return p, p + 2 * math.sqrt(p * (1 - p) / n)


def learned_nothing(num_classes: int, history: list[dict[str, float]], val_acc: float,
                    val_labels: np.ndarray) -> str | None:  # fmt: skip
    """Why a finished run should not count as a success, naming the likely cause; None if it learned.

    An untrained network starts near the loss of a uniform guess, ln(classes). A run learned nothing
    when its training loss ends well above that, or when its validation accuracy is at chance level.
    """
    start = math.log(num_classes)
    losses = [h["train_loss"] for h in history] or [start]
    end, peak = losses[-1], max(losses)
    if end > start * ROSE:
        return (f"the training loss rose from about {start:.3g} (a uniform guess, where training starts) "
                f"to {end:.3g}: {TOO_LARGE}")  # fmt: skip
    majority, bar = chance_level(val_labels)
    if val_acc > bar or (too_few_to_judge(val_labels, val_acc) and end < start * STILL):
        return None  # learned; or too few validation images to say it didn't (its summary says so instead)
    if peak > start * ROSE:
        cause = f"the training loss jumped to {peak:.3g} on the way: {TOO_LARGE}"
    elif end >= start * STILL:
        cause = f"the training loss stayed near {start:.3g}: the learning rate is probably too small, or the run too short"
    else:
        cause = "the training loss fell but not the validation error: the network memorises its training images"
    return (f"validation accuracy {val_acc:.1%} is at chance level (always answering the most common class "
            f"scores {majority:.1%}); {cause}")  # fmt: skip


def too_few_to_judge(val_labels: np.ndarray, val_acc: float) -> str | None:
    """A note when the validation split is too small to judge a run that scored above the majority share but not
    clearly above it (67 % on 6 images: not "chance", not proven either); None otherwise."""
    n = len(val_labels)
    majority, bar = chance_level(val_labels)
    if not n or n >= FEW or not majority < val_acc <= bar:
        return None
    return (f"{n} validation image{'s' * (n != 1)} are too few to judge: {val_acc:.0%} beats the {majority:.0%} of "
            f"always answering the most common class, but luck alone could score it (a clear result needs above "
            f"{min(bar, 1):.0%}); add images or raise the validation share on the Dataset page")
