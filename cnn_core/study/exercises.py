"""The notebook's exercises as controlled comparisons: variants that differ only in what the exercise names.

An exercise turns one block design and one training config into variants that differ only in what the
exercise names (a fourth block, the downsampling, an augmentation, the loss…). Every variant trains on the
same data and split with the same budget, once per training seed; the seeds change the initial weights, the
shuffling, dropout and augmentation, never the data. `ExperimentConfig` is one such batch of runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cnn_core.data.config import SHAPE_CLASSES, DataConfig
from cnn_core.nets.blocks import BlockDesign
from cnn_core.nets.spec import ModelSpec
from cnn_core.study.trials import Trial
from cnn_core.training.config import TrainConfig

MAX_SEEDS = 10
MAX_CHANNELS = 1024  # the widest conv a block design may get from doubling or widening

# A task where design choices show: shapes anywhere, at any size and angle, in any colour, among clutter.
HARD_SHAPES = DataConfig(classes=SHAPE_CLASSES, n_per_class=200, position_jitter=0.2, scale_jitter=0.3,
                         rotation=30.0, color_mode="random", clutter=3, noise=0.15)  # fmt: skip
WHY_HARD = ("On the default shapes every variant reaches 100 % validation accuracy within a few epochs: each "
            "class has its own colour, so the colour alone gives the answer, and a comparison can only say "
            "that nothing matters. Hard shapes take the colour away (random hues), move, scale and turn the "
            "shapes, add clutter and use all 8 classes, so the network has to learn the shapes themselves.")


def channels_for(design: BlockDesign, num_blocks: int) -> tuple[int, ...]:
    """The design's channels cut or extended to `num_blocks` blocks (each new block doubles the last)."""
    out = list(design.channels[:num_blocks])
    while len(out) < num_blocks:
        out.append(min(2 * out[-1], MAX_CHANNELS))
    return tuple(out)


def widen(channels: Sequence[int], factor: float) -> tuple[int, ...]:
    """Every block's channels times `factor`, rounded, at least 1."""
    return tuple(min(max(1, round(c * factor)), MAX_CHANNELS) for c in channels)


def with_blocks(design: BlockDesign, num_blocks: int) -> BlockDesign:
    return dataclasses.replace(design, num_blocks=num_blocks, channels=channels_for(design, num_blocks))


@dataclass(frozen=True)
class Variant:
    name: str  # what the learner reads, e.g. "4 blocks"
    design: BlockDesign
    train: TrainConfig


@dataclass(frozen=True)
class Exercise:
    name: str  # the CLI's name, e.g. "deeper"
    title: str  # e.g. "Deeper: 3 vs 4 conv blocks"
    question: str  # the question the comparison answers
    make: Callable[[BlockDesign, TrainConfig], list[Variant]]  # the variants, the baseline first
    treatment: str  # the variant the question is about, compared with the baseline
    # "better" / "worse" / "unclear" (treatment vs baseline) → the one-line answer; {diff}: the gap in points,
    # {signed}: the same with its sign, {ci}: its 95 % confidence interval
    answers: dict[str, str]
    notebook: bool = True  # one of the notebook's own exercises


def _design_variants(**values: list) -> Callable[[BlockDesign, TrainConfig], list[Variant]]:
    """Variants that set one BlockDesign field: name → value."""
    ((name, choices),) = values.items()
    return lambda d, t: [Variant(label, dataclasses.replace(d, **{name: v}), t) for label, v in choices]


def _train_variants(**values: list) -> Callable[[BlockDesign, TrainConfig], list[Variant]]:
    """Variants that set one TrainConfig field: name → value."""
    ((name, choices),) = values.items()
    return lambda d, t: [Variant(label, d, dataclasses.replace(t, **{name: v})) for label, v in choices]


EXERCISES = {
    e.name: e
    for e in (
        Exercise("deeper", "Deeper: 3 vs 4 conv blocks", "Does deeper always win?",
                 lambda d, t: [Variant(f"{n} blocks", with_blocks(d, n), t) for n in (3, 4)], "4 blocks",
                 {"better": "Here the fourth block helped, by {diff} — but one task cannot show that deeper "
                            "*always* wins.",
                  "worse": "No: here the fourth block did worse, by {diff}.",
                  "unclear": "No: here a fourth block made no clear difference ({signed}, 95 % CI {ci})."}),
        Exercise("downsampling", "Downsampling: max pooling vs stride-2 convolution",
                 "Is there a performance difference between max pooling and a stride-2 convolution?",
                 _design_variants(downsample=[("max pool", "max"), ("stride-2 conv", "stride")]), "stride-2 conv",
                 {"better": "Yes: here the stride-2 convolution did better, by {diff}.",
                  "worse": "Yes: here max pooling did better, by {diff}.",
                  "unclear": "No clear one here: {signed} (95 % CI {ci})."}),
        Exercise("augmentation", "Augmentation: none vs RandomRotation(15)",
                 "What does RandomRotation(15) in training do to test accuracy?",
                 _train_variants(rotation=[("no augmentation", 0.0), ("rotation ±15°", 15.0)]), "rotation ±15°",
                 {"better": "It raised test accuracy by {diff}.",
                  "worse": "It lowered test accuracy by {diff}.",
                  "unclear": "No clear effect here: {signed} (95 % CI {ci})."}),
        Exercise("loss", "Loss: cross-entropy vs label smoothing 0.1", "Does label smoothing 0.1 help?",
                 _train_variants(label_smoothing=[("cross-entropy", 0.0), ("label smoothing 0.1", 0.1)]),
                 "label smoothing 0.1",
                 {"better": "Yes, here: it raised test accuracy by {diff}.",
                  "worse": "No, here it hurt: test accuracy fell by {diff}.",
                  "unclear": "Not clearly, here: {signed} (95 % CI {ci})."}),
        Exercise("width", "Width: channels ×0.5 / ×1 / ×2", "Does a wider network do better?",
                 lambda d, t: [Variant(f"×{f:g} channels", dataclasses.replace(d, channels=widen(d.channels, f)), t)
                               for f in (1, 0.5, 2)], "×2 channels",
                 {"better": "Yes, here: twice the channels raised test accuracy by {diff}.",
                  "worse": "No: here twice the channels did worse, by {diff}.",
                  "unclear": "Not clearly, here: twice the channels changed test accuracy by {signed} "
                             "(95 % CI {ci})."}, notebook=False),
        Exercise("batchnorm", "Batch norm: on vs off", "Does batch norm help?",
                 _design_variants(batch_norm=[("batch norm", True), ("no batch norm", False)]), "no batch norm",
                 {"better": "Not here: without batch norm the network did better, by {diff}.",
                  "worse": "Yes, here: without batch norm test accuracy fell by {diff}.",
                  "unclear": "Not clearly, here: removing it changed test accuracy by {signed} "
                             "(95 % CI {ci})."}, notebook=False),
    )
}  # fmt: skip


def exercise(name: str) -> Exercise:
    if name not in EXERCISES:
        raise ValueError(f"unknown exercise {name!r}; expected one of {', '.join(EXERCISES)}")
    return EXERCISES[name]


# ---------------------------------------------------------------- what to train


def input_of(data: DataConfig) -> tuple[tuple[int, int, int], int]:
    """(input shape, number of classes) of the images a data config makes."""
    return (data.channels, data.size, data.size), len(data.classes)


def check_splits(data: DataConfig) -> None:
    """Every run validates each epoch and is scored on the test images: both shares must be above 0."""
    if data.val_fraction <= 0:
        raise ValueError("every run checks itself on validation images each epoch: set a validation share above 0")
    if data.test_fraction <= 0:
        raise ValueError("every run is scored on the test images: set a test share above 0")


def design_spec(design: BlockDesign, data: DataConfig) -> ModelSpec:
    """The design on this data; ValueError naming the layer when it cannot take these images."""
    from cnn_core.nets.summary import summarize

    spec = design.to_spec(*input_of(data))
    error = summarize(spec).error
    if error is not None:
        raise ValueError(f"the network breaks at layer {error.index} ({error.layer_type}): {error.reason}")
    return spec


PARTS = {"data": DataConfig, "design": BlockDesign, "train": TrainConfig}  # the configs inside a batch's config


def nested_from_dict(cls, data: Any):
    """An ExperimentConfig or SweepConfig from its to_dict(): the data, design and train parts rebuilt too."""
    if not isinstance(data, dict):
        raise ValueError(f"{cls.__name__} expects a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s) {', '.join(unknown)}")
    return cls(**{k: PARTS[k].from_dict(v) if k in PARTS else v for k, v in data.items()})


@dataclass(frozen=True)
class ExperimentConfig:
    exercise: str = "deeper"  # one of EXERCISES
    seeds: int = 3  # training seeds per variant, from train.seed upwards
    data: DataConfig = HARD_SHAPES  # the same data and split for every run
    design: BlockDesign = BlockDesign()  # the network the variants start from (SimpleCNN)
    train: TrainConfig = TrainConfig(epochs=10)  # the same budget for every run

    def __post_init__(self) -> None:
        exercise(self.exercise)
        if isinstance(self.seeds, bool) or not isinstance(self.seeds, int) or not 1 <= self.seeds <= MAX_SEEDS:
            raise ValueError(f"seeds must be a whole number from 1 to {MAX_SEEDS}, got {self.seeds!r}")
        check_splits(self.data)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExperimentConfig:
        return nested_from_dict(cls, data)

    def variants(self) -> list[Variant]:
        return exercise(self.exercise).make(self.design, self.train)

    def trials(self) -> list[Trial]:
        """Every variant × seed, variant by variant, seeds in order; ValueError if a variant cannot be built."""
        out = []
        for v in self.variants():
            spec = design_spec(v.design, self.data)
            for i in range(self.seeds):
                seed = self.train.seed + i
                out.append(Trial(v.name, seed, self.data, spec, dataclasses.replace(v.train, seed=seed)))
        return out
