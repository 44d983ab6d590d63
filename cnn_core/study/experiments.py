"""Controlled comparisons: the notebook's exercises as variants trained over several seeds, and a verdict on noise.

An exercise turns one block design and one training config into variants that differ only in what the
exercise names (a fourth block, the downsampling, an augmentation, the loss…). Every variant trains on the
same data and split with the same budget, once per training seed; the seeds change the initial weights, the
shuffling, dropout and augmentation, never the data. A difference between two variants counts only when it
is larger than the seed-to-seed spread.

About 400 lines: the six exercises, their statistics and the verdict text belong together; sweeps.py and
trials.py hold the search and the batch of runs.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
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


# ---------------------------------------------------------------- the exercises


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
    answers: dict[str, str]  # "better" / "worse" / "unclear" (treatment vs baseline) → the one-line answer
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
                  "unclear": "No: here a fourth block made no clear difference ({diff}, within the seed-to-seed "
                             "spread of {spread})."}),
        Exercise("downsampling", "Downsampling: max pooling vs stride-2 convolution",
                 "Is there a performance difference between max pooling and a stride-2 convolution?",
                 _design_variants(downsample=[("max pool", "max"), ("stride-2 conv", "stride")]), "stride-2 conv",
                 {"better": "Yes: here the stride-2 convolution did better, by {diff}.",
                  "worse": "Yes: here max pooling did better, by {diff}.",
                  "unclear": "No clear one here: {diff}, within the seed-to-seed spread of {spread}."}),
        Exercise("augmentation", "Augmentation: none vs RandomRotation(15)",
                 "What does RandomRotation(15) in training do to test accuracy?",
                 _train_variants(rotation=[("no augmentation", 0.0), ("rotation ±15°", 15.0)]), "rotation ±15°",
                 {"better": "It raised test accuracy by {diff}.",
                  "worse": "It lowered test accuracy by {diff}.",
                  "unclear": "No clear effect here: {diff}, within the seed-to-seed spread of {spread}."}),
        Exercise("loss", "Loss: cross-entropy vs label smoothing 0.1", "Does label smoothing 0.1 help?",
                 _train_variants(label_smoothing=[("cross-entropy", 0.0), ("label smoothing 0.1", 0.1)]),
                 "label smoothing 0.1",
                 {"better": "Yes, here: it raised test accuracy by {diff}.",
                  "worse": "No, here it hurt: test accuracy fell by {diff}.",
                  "unclear": "Not clearly, here: {diff}, within the seed-to-seed spread of {spread}."}),
        Exercise("width", "Width: channels ×0.5 / ×1 / ×2", "Does a wider network do better?",
                 lambda d, t: [Variant(f"×{f:g} channels", dataclasses.replace(d, channels=widen(d.channels, f)), t)
                               for f in (1, 0.5, 2)], "×2 channels",
                 {"better": "Yes, here: twice the channels raised test accuracy by {diff}.",
                  "worse": "No: here twice the channels did worse, by {diff}.",
                  "unclear": "Not clearly, here: twice the channels changed test accuracy by {diff}, within the "
                             "seed-to-seed spread of {spread}."}, notebook=False),
        Exercise("batchnorm", "Batch norm: on vs off", "Does batch norm help?",
                 _design_variants(batch_norm=[("batch norm", True), ("no batch norm", False)]), "no batch norm",
                 {"better": "Not here: without batch norm the network did better, by {diff}.",
                  "worse": "Yes, here: without batch norm test accuracy fell by {diff}.",
                  "unclear": "Not clearly, here: removing it changed test accuracy by {diff}, within the "
                             "seed-to-seed spread of {spread}."}, notebook=False),
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


# ---------------------------------------------------------------- statistics


def mean(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("the mean of no values is undefined")
    return math.fsum(values) / len(values)


def sample_std(values: Sequence[float]) -> float | None:
    """The sample standard deviation (divides by n − 1); None for fewer than two values."""
    if len(values) < 2:
        return None
    m = mean(values)
    return math.sqrt(math.fsum((v - m) ** 2 for v in values) / (len(values) - 1))


@dataclass(frozen=True)
class Comparison:
    """A variant against the baseline: the difference of mean test accuracy and the seed-to-seed spread."""

    baseline: str
    other: str
    difference: float  # other's mean − baseline's mean (accuracy as a share, 0 to 1)
    spread: float | None  # the larger of the two sample standard deviations; None with one seed

    @property
    def outcome(self) -> str:
        """"better" / "worse" when the difference is larger than the spread, else "unclear"."""
        if self.spread is None or abs(self.difference) <= self.spread:
            return "unclear"
        return "better" if self.difference > 0 else "worse"


def compare(baseline: str, base_scores: Sequence[float], other: str, other_scores: Sequence[float]) -> Comparison:
    stds = [sample_std(base_scores), sample_std(other_scores)]
    spread = None if None in stds else max(stds)  # type: ignore[type-var]
    return Comparison(baseline, other, mean(other_scores) - mean(base_scores), spread)


def points(share: float | None) -> str:
    """A difference of accuracies in percentage points: 0.0234 → '2.3 points'."""
    return "—" if share is None else f"{abs(share) * 100:.1f} point{'s' * (round(abs(share) * 1000) != 10)}"


def percent(share: float, std: float | None = None) -> str:
    """0.7125, 0.0191 → '71.2 % ± 1.9'."""
    return f"{share * 100:.1f} %" + ("" if std is None else f" ± {std * 100:.1f}")


def _loss(m: float, std: float | None) -> str:
    return f"{m:.3f}" + ("" if std is None else f" ± {std:.3f}")


def verdict_sentence(c: Comparison, stats: dict[str, VariantStats]) -> str:
    """One sentence, honest about noise, with the numbers."""
    a, b = stats[c.baseline], stats[c.other]
    numbers = f"{c.other} scored {percent(b.mean, b.std)} against {percent(a.mean, a.std)} for {c.baseline}"
    if c.spread is None:
        return (f"No verdict with one seed: {numbers}, but without a second seed there is no seed-to-seed "
                "spread to tell a real difference from luck.")  # fmt: skip
    na, nb = len(a.test_acc), len(b.test_acc)
    over = f"over {na} seeds" if na == nb else f"over {na} and {nb} seeds"
    if c.outcome == "unclear":
        return (f"No clear difference: {numbers} {over}; the gap of {points(c.difference)} is not larger than "
                f"the seed-to-seed spread of {points(c.spread)}.")  # fmt: skip
    word = "better" if c.outcome == "better" else "worse"
    return (f"{c.other} did {word}: {numbers} {over}; the gap of {points(c.difference)} is larger than the "
            f"seed-to-seed spread of {points(c.spread)}.")  # fmt: skip


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class VariantStats:
    name: str
    test_acc: tuple[float, ...]  # one per seed, in seed order
    test_loss: tuple[float, ...]
    params: int
    macs: int
    seconds: float  # mean training time of one run

    @property
    def mean(self) -> float:
        return mean(self.test_acc)

    @property
    def std(self) -> float | None:
        return sample_std(self.test_acc)

    @property
    def loss_mean(self) -> float:
        return mean(self.test_loss)

    @property
    def loss_std(self) -> float | None:
        return sample_std(self.test_loss)


@dataclass(frozen=True)
class ExperimentResult:
    exercise: str
    seeds: int
    variants: tuple[VariantStats, ...]  # the baseline first
    comparisons: tuple[Comparison, ...] = field(default=())  # every other variant against the baseline

    @property
    def stats(self) -> dict[str, VariantStats]:
        return {v.name: v for v in self.variants}

    @property
    def main(self) -> Comparison:
        """The comparison the exercise's question is about."""
        treatment = exercise(self.exercise).treatment
        return next(c for c in self.comparisons if c.other == treatment)

    @property
    def verdict(self) -> str:
        return " ".join(verdict_sentence(c, self.stats) for c in self.comparisons)

    @property
    def loss_verdict(self) -> str:
        """The same rule on the test loss (lower is better): a loss can separate variants that accuracy does not."""
        out = []
        for c in self.comparisons:
            a, b = self.stats[c.baseline], self.stats[c.other]
            lc = compare(c.baseline, a.test_loss, c.other, b.test_loss)
            numbers = (f"{c.other} {_loss(b.loss_mean, b.loss_std)} against {_loss(a.loss_mean, a.loss_std)} for "
                       f"{c.baseline}")  # fmt: skip
            if lc.spread is None:
                out.append(f"Test loss: {numbers}.")
            elif lc.outcome == "unclear":
                out.append(f"Test loss: {numbers}; the gap of {abs(lc.difference):.3f} is within the spread "
                           f"({lc.spread:.3f}).")  # fmt: skip
            else:
                word = "higher (worse)" if lc.outcome == "better" else "lower (better)"
                out.append(f"Test loss: {numbers}; {word} by {abs(lc.difference):.3f}, more than the spread "
                           f"({lc.spread:.3f}).")  # fmt: skip
        return " ".join(out)

    @property
    def answer(self) -> str:
        """The exercise's question, answered in one line."""
        ex, c = exercise(self.exercise), self.main
        text = ex.answers[c.outcome].format(diff=points(c.difference), spread=points(c.spread))
        if c.spread is None:
            text = "Cannot tell with one seed: run at least two."
        return f"{ex.question} {text}"

    def to_dict(self) -> dict[str, Any]:
        """The CLI's --json: exercise, seeds, variants (name, test_acc, mean, std, params, seconds), verdict."""
        variants = [{"name": v.name, "test_acc": list(v.test_acc), "mean": v.mean, "std": v.std,
                     "params": v.params, "seconds": v.seconds} for v in self.variants]  # fmt: skip
        return {"exercise": self.exercise, "seeds": self.seeds, "variants": variants, "verdict": self.verdict}


def summarize_experiment(name: str, seeds: int, scores: dict[str, list[dict[str, Any]]]) -> ExperimentResult:
    """Per-variant statistics from each variant's per-seed scores (dicts with test_acc, test_loss, params,
    macs, seconds), in the exercise's variant order; every variant against the first (the baseline)."""
    rows = []
    for vname, runs in scores.items():
        if not runs:
            raise ValueError(f"variant {vname!r} has no finished runs")
        rows.append(VariantStats(vname, tuple(r["test_acc"] for r in runs), tuple(r["test_loss"] for r in runs),
                                 runs[0]["params"], runs[0]["macs"], mean([r["seconds"] for r in runs])))  # fmt: skip
    base = rows[0]
    comps = tuple(compare(base.name, base.test_acc, v.name, v.test_acc) for v in rows[1:])
    return ExperimentResult(name, seeds, tuple(rows), comps)


def cost(spec: ModelSpec) -> dict[str, int]:
    """Parameters and multiply-accumulates per image, from the calculator (no torch)."""
    from cnn_core.nets.summary import summarize

    s = summarize(spec)
    return {"params": s.total_params, "macs": s.total_macs}


def experiment_result(cfg: ExperimentConfig, states) -> ExperimentResult | None:
    """Statistics over the finished runs of a batch (TrialStates of `cfg.trials()`); None until the
    baseline and at least one other variant have a finished run."""
    scores: dict[str, list[dict[str, Any]]] = {v.name: [] for v in cfg.variants()}
    for s in states:
        if s.finished:
            scores[s.trial.label].append({**s.scores, **cost(s.trial.spec), "seconds": s.run.summary["train_seconds"]})
    base = next(iter(scores))
    scores = {k: v for k, v in scores.items() if v}
    if base not in scores or len(scores) < 2:
        return None
    return summarize_experiment(cfg.exercise, cfg.seeds, scores)
