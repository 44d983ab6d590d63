"""Hyperparameter sweeps: a grid, or a random sample of it, over training settings and block-level knobs."""

from __future__ import annotations

import dataclasses
import itertools
import math
import random
from dataclasses import dataclass
from typing import Any

from cnn_core.data.config import DataConfig
from cnn_core.nets.blocks import BlockDesign
from cnn_core.study.exercises import HARD_SHAPES, check_splits, design_spec, nested_from_dict, widen, with_blocks
from cnn_core.study.significance import accuracy_interval
from cnn_core.study.trials import Trial
from cnn_core.training.config import TrainConfig

MODES = ("grid", "random")
MAX_TRIALS = 100  # the largest budget: every trial is a full training run
# Training settings a sweep may vary: every TrainConfig field but the seed and the precision.
TRAIN_KNOBS = tuple(f.name for f in dataclasses.fields(TrainConfig) if f.name not in ("seed", "precision"))
# Block-level knobs: "blocks" and "width" reshape the channels; the others are BlockDesign fields.
BLOCK_KNOBS = ("blocks", "width", "kernel_size", "downsample", "batch_norm", "activation", "dropout", "hidden",
               "head_dropout")  # fmt: skip
KNOBS = TRAIN_KNOBS + BLOCK_KNOBS
_KNOB_TYPE = {"blocks": int, "width": float}
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def knob_type(name: str) -> type:
    """The Python type of a knob's values (from the config's defaults)."""
    if name not in KNOBS:
        raise ValueError(f"unknown hyperparameter {name!r}; expected one of {', '.join(KNOBS)}")
    if name in _KNOB_TYPE:
        return _KNOB_TYPE[name]
    return type(getattr(TrainConfig() if name in TRAIN_KNOBS else BlockDesign(), name))


def parse_value(name: str, text: str) -> Any:
    """One knob value from text: '1e-3' for a float, '64' for an int, 'true' for a flag, 'adam' for a choice."""
    kind, text = knob_type(name), text.strip()
    if kind is bool:
        if text.lower() in _TRUE + _FALSE:
            return text.lower() in _TRUE
        raise ValueError(f"{name} takes true or false, got {text!r}")
    try:
        value = kind(text) if kind is not int else int(text)
    except ValueError:
        raise ValueError(f"{name} takes {'whole numbers' if kind is int else 'numbers'}, got {text!r}") from None
    if kind is float and not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {text!r}")
    return value


def parse_param(text: str) -> tuple[str, tuple[Any, ...]]:
    """'lr=1e-4,1e-3' → ('lr', (0.0001, 0.001)); ValueError on an unknown name, a bad or repeated value."""
    name, sep, values = text.partition("=")
    name = name.strip().replace("-", "_")
    if not sep or not values.strip():
        raise ValueError(f"give a hyperparameter as name=value1,value2,…, got {text!r}")
    parsed = tuple(parse_value(name, v) for v in values.split(",") if v.strip())
    if len(set(parsed)) != len(parsed):
        raise ValueError(f"{name} lists a value twice: {values.strip()}")
    return name, parsed


def apply(design: BlockDesign, train: TrainConfig, settings: dict[str, Any]) -> tuple[BlockDesign, TrainConfig]:
    """The design and training config with the settings applied ("blocks" before "width")."""
    if "blocks" in settings:
        design = with_blocks(design, settings["blocks"])
    if "width" in settings:
        if settings["width"] <= 0:
            raise ValueError(f"width must be above 0, got {settings['width']:g}")
        design = dataclasses.replace(design, channels=widen(design.channels, settings["width"]))
    block = {k: v for k, v in settings.items() if k in BLOCK_KNOBS and k not in _KNOB_TYPE}
    trains = {k: v for k, v in settings.items() if k in TRAIN_KNOBS}
    return dataclasses.replace(design, **block), dataclasses.replace(train, **trains)


@dataclass(frozen=True)
class SweepConfig:
    params: tuple[tuple[str, tuple[Any, ...]], ...]  # (knob, values) pairs, in the order given
    mode: str = "grid"  # "grid": every combination; "random": `budget` combinations drawn from the grid
    budget: int = 20  # the most runs the sweep may train
    seed: int = 0  # the random search's draw (the training seed is train.seed)
    data: DataConfig = HARD_SHAPES
    design: BlockDesign = BlockDesign()
    train: TrainConfig = TrainConfig(epochs=10)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", tuple((k, tuple(v)) for k, v in self.params))
        if self.mode not in MODES:
            raise ValueError(f"unknown search {self.mode!r}; expected one of {', '.join(MODES)}")
        if not self.params:
            raise ValueError("choose at least one hyperparameter to sweep")
        check_splits(self.data)
        names = [k for k, _ in self.params]
        for name in names:
            knob_type(name)
        if len(set(names)) != len(names):
            raise ValueError("each hyperparameter may be swept only once")
        if any(not values for _, values in self.params):
            raise ValueError("give each hyperparameter at least one value")
        if isinstance(self.budget, bool) or not isinstance(self.budget, int) or not 1 <= self.budget <= MAX_TRIALS:
            raise ValueError(f"the budget must be from 1 to {MAX_TRIALS} runs, got {self.budget!r}")
        size = self.grid_size
        if self.mode == "grid" and size > self.budget:
            raise ValueError(f"the grid has {size} combinations, more than the budget of {self.budget} runs: "
                             "raise the budget, drop values, or use a random search")  # fmt: skip
        if self.mode == "random" and self.budget > size:
            raise ValueError(f"a random search of {self.budget} runs needs at least {self.budget} combinations; "
                             f"the grid has only {size}: use the grid")  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SweepConfig:
        return nested_from_dict(cls, data)

    @property
    def grid_size(self) -> int:
        return math.prod(len(values) for _, values in self.params)

    def combinations(self) -> list[dict[str, Any]]:
        """The settings of every trial: the whole grid in order, or `budget` distinct draws from it."""
        names = [k for k, _ in self.params]
        grid = [values for _, values in self.params]
        if self.mode == "grid":
            return [dict(zip(names, combo)) for combo in itertools.product(*grid)]
        picks = random.Random(self.seed).sample(range(self.grid_size), self.budget)
        return [dict(zip(names, _unrank(i, grid))) for i in picks]

    def trials(self) -> list[Trial]:
        """One trial per combination; ValueError naming the combination that cannot be built or trained."""
        out = []
        for n, settings in enumerate(self.combinations(), 1):
            try:
                design, train = apply(self.design, self.train, settings)
                spec = design_spec(design, self.data)
            except ValueError as exc:
                raise ValueError(f"{describe(settings)}: {exc}") from None
            out.append(Trial(f"trial {n}", train.seed, self.data, spec, train, tuple(settings.items())))
        return out


def _unrank(index: int, grid: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    """The index-th combination of itertools.product(*grid), without building the product."""
    out = []
    for values in reversed(grid):
        index, i = divmod(index, len(values))
        out.append(values[i])
    return tuple(reversed(out))


def describe(settings: dict[str, Any] | tuple) -> str:
    """{'lr': 0.001, 'batch_size': 32} → 'lr=0.001, batch_size=32'."""
    items = settings.items() if isinstance(settings, dict) else settings
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in items)


def best_trial(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The finished trial with the best validation accuracy (ties: fewer parameters, then the earlier trial).

    Chosen on validation, not test, accuracy: picking by the test score would tune to the test images.
    """
    done = [r for r in rows if r.get("val_acc") is not None]
    return min(done, key=lambda r: (-r["val_acc"], r["params"], r["trial"]), default=None)


def val_interval(row: dict[str, Any]) -> tuple[float, float] | None:
    """The 95 % Wilson interval of a trial's validation accuracy over its validation images (None unknown)."""
    if row.get("val_acc") is None or not row.get("val_images"):
        return None
    return accuracy_interval(row["val_acc"], row["val_images"])


def close_to_best(rows: list[dict[str, Any]], best: dict[str, Any]) -> list[dict[str, Any]]:
    """The other finished trials the best cannot be told apart from: their validation accuracy's interval
    overlaps the best's. (A conservative test: two intervals that barely overlap can still differ at 5 %.)"""
    top = val_interval(best)
    if top is None:
        return []
    near = []
    for r in rows:
        ci = val_interval(r)
        if r is not best and ci is not None and ci[1] >= top[0]:
            near.append(r)
    return sorted(near, key=lambda r: -r["val_acc"])


def best_caveat(rows: list[dict[str, Any]], best: dict[str, Any]) -> str:
    """How sure the best is, in words: its interval and the trials it cannot be told apart from."""
    ci = val_interval(best)
    if ci is None:
        return ""
    text = f"95 % interval {ci[0]:.1%} to {ci[1]:.1%} over its {best['val_images']} validation images"
    near = [f"trial {r['trial']}" for r in close_to_best(rows, best)]
    if not near:
        return text + "; no other trial's interval reaches it."
    shown = ", ".join(near[:5]) + (f" and {len(near) - 5} more" if len(near) > 5 else "")
    return (f"{text}; it cannot be told apart from {shown}: their intervals overlap, so on these images the "
            "order at the top may be luck.")  # fmt: skip


def sweep_rows(states) -> list[dict[str, Any]]:
    """One row per trial (TrialStates of `SweepConfig.trials()`): its settings, state and, once finished,
    validation and test accuracy (and the count of validation images), parameters, MACs and training time."""
    from cnn_core.study.experiments import cost

    rows = []
    for n, s in enumerate(states, 1):
        row: dict[str, Any] = {"trial": n, **dict(s.trial.settings), "state": s.state, "val_acc": None,
                               "test_acc": None, **cost(s.trial.spec), "seconds": None, "val_images": None}  # fmt: skip
        if s.finished:
            row.update(val_acc=s.run.summary["val_acc"], test_acc=s.scores["test_acc"],
                       seconds=s.run.summary["train_seconds"], val_images=s.scores.get("val_images"))  # fmt: skip
        rows.append(row)
    return rows
