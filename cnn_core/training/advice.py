"""Warnings before training: settings that will make a run fail or learn nothing, said before Train is pressed."""

from __future__ import annotations

# The learning rates each optimizer usually trains well with, and the rate from which a run on
# this lab's datasets usually blows up (seen on the Training page: Adam at 0.1 on shapes diverges).
USUAL_LR = {"sgd": (1e-3, 0.1), "adam": (1e-4, 3e-3), "adamw": (1e-4, 3e-3)}
FAR_ABOVE = 10  # a rate this many times the top of the usual range is "far above" it


def learning_rate_warning(optimizer: str, lr: float) -> str | None:
    """A warning when the learning rate is far above what the optimizer usually takes, else None."""
    low, high = USUAL_LR[optimizer]
    if lr >= FAR_ABOVE * high:
        name = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW"}[optimizer]
        return (f"A learning rate of {lr:g} is far above what {name} usually takes ({low:g} to {high:g}): the loss "
                "will probably jump around or blow up. Try a smaller one, or train anyway to watch it happen.")
    return None


def split_warning(n_train: int, n_val: int) -> str | None:
    """A warning when a split is empty or too small to train on or to judge the model by."""
    if n_train < 2:
        return (f"The training split has {n_train} image{'s' * (n_train != 1)}: there is nothing to learn from. "
                "Add images per class on the Dataset page, or lower the validation and test shares.")
    if n_val == 0:
        return ("The validation split is empty, so training can't measure how well the model does on images it "
                "hasn't seen. Add images per class on the Dataset page (each class needs a few for every split).")
    return None


def before_training(optimizer: str, lr: float, n_train: int, n_val: int, spec_warnings: list[str] = ()) -> list[str]:
    """Every warning for this run, most serious first; the design's own warnings (e.g. an upsampling pool) last."""
    found = [split_warning(n_train, n_val), learning_rate_warning(optimizer, lr), *spec_warnings]
    return [w for w in found if w]
