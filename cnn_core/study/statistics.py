"""The statistics of an experiment: per-variant means and spreads over seeds, a variant against the baseline,
and the verdict in words. A difference counts only when it is larger than the seed-to-seed spread."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


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


def loss_text(m: float, std: float | None) -> str:
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
