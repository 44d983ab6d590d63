"""The statistics of an experiment: per-variant means and spreads over seeds, each variant against the
baseline (a paired t-test seed by seed, Holm's correction across variants; significance.py) and the verdict
in words. A difference is claimed only when the corrected p-value is below 5 %, never without a spread."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cnn_core.study.significance import MOST_SEEDS, TINY, claimed, holm, paired_test, seeds_needed, welch_test


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


def _number(x) -> float | None:
    x = float(x)
    return None if math.isnan(x) else x


@dataclass(frozen=True)
class Comparison:
    """A variant against the baseline: the mean difference with its 95 % confidence interval and p-value."""

    baseline: str
    other: str
    difference: float  # other − baseline: the mean of the per-seed differences (paired) or of the means
    low: float | None  # the 95 % confidence interval of the difference; None without evidence
    high: float | None
    p: float | None  # the t-test's two-sided p-value; None with one seed or no spread at all
    spread: float | None  # std of one seed's difference (paired) or of a difference of two runs; None with one seed
    n: int  # seeds compared: pairs (paired), or the smaller count of runs (Welch's test)
    paired: bool  # both variants ran the same seeds, compared seed by seed
    p_adjusted: float | None = None  # p after Holm's correction across `family` comparisons
    family: int = 1  # comparisons corrected together (the variants against one baseline)

    @property
    def outcome(self) -> str:
        """"better" / "worse" when the corrected p-value is below α, else "unclear"."""
        if self.p_adjusted is None or not claimed(self.p_adjusted):
            return "unclear"
        return "better" if self.difference > 0 else "worse"

    def to_dict(self) -> dict:
        return {"variant": self.other, "baseline": self.baseline, "difference": self.difference,
                "ci_low": self.low, "ci_high": self.high, "p": self.p, "p_adjusted": self.p_adjusted,
                "comparisons_corrected": self.family, "seeds": self.n, "paired": self.paired,
                "outcome": self.outcome}  # fmt: skip


def compare(baseline: str, base_scores: Sequence[float], other: str, other_scores: Sequence[float],
            base_seeds: Sequence[int] | None = None, other_seeds: Sequence[int] | None = None) -> Comparison:
    """Seed by seed when both ran the same seeds (default: the i-th score is seed i), else Welch's test."""
    base_seeds = tuple(range(len(base_scores)) if base_seeds is None else base_seeds)
    other_seeds = tuple(range(len(other_scores)) if other_seeds is None else other_seeds)
    paired = base_seeds == other_seeds
    t = (paired_test if paired else welch_test)(base_scores, other_scores)
    p = _number(t.p)
    return Comparison(baseline, other, float(t.difference), _number(t.low), _number(t.high), p,
                      _number(t.spread), t.n, paired, p)  # fmt: skip


def corrected(comparisons: Sequence[Comparison]) -> tuple[Comparison, ...]:
    """The comparisons with Holm's correction across them (those without a p-value are not counted)."""
    ps = [math.nan if c.p is None else c.p for c in comparisons]
    if not ps:
        return ()
    adjusted = holm(ps)
    family = sum(p == p for p in ps)
    return tuple(dataclasses.replace(c, p_adjusted=_number(a), family=max(family, 1))
                 for c, a in zip(comparisons, adjusted))  # fmt: skip


# ---------------------------------------------------------------- in words


def points(share: float | None) -> str:
    """A difference of accuracies in percentage points: 0.0234 → '2.3 points'."""
    return "—" if share is None else f"{abs(share) * 100:.1f} point{'s' * (round(abs(share) * 1000) != 10)}"


def signed_points(share: float) -> str:
    """0.021 → '+2.1 points', −0.004 → '−0.4 points'."""
    return f"{'−' if share < 0 else '+'}{points(share)}"


def _signed(x: float, digits: int) -> str:
    return f"{'−' if x < 0 else '+'}{abs(x):.{digits}f}"


def percent(share: float, std: float | None = None) -> str:
    """0.7125, 0.0191 → '71.2 % ± 1.9'."""
    return f"{share * 100:.1f} %" + ("" if std is None else f" ± {std * 100:.1f}")


def loss_text(m: float, std: float | None) -> str:
    return f"{m:.3f}" + ("" if std is None else f" ± {std:.3f}")


def p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.2g}"


@dataclass(frozen=True)
class Unit:
    """How a measure's differences read: accuracy in points (higher is better), loss in its own units (lower)."""

    signed: Callable[[float], str]
    bound: Callable[[float], str]  # one end of an interval, signed
    higher: str = "better"  # what a positive difference means
    lower: str = "worse"
    gap: bool = True  # offer the "how many seeds" line


ACCURACY = Unit(signed_points, lambda x: _signed(x * 100, 1))
LOSS = Unit(lambda x: _signed(x, 3), lambda x: _signed(x, 3), "higher (worse)", "lower (better)", gap=False)


def ci_text(c: Comparison, unit: Unit = ACCURACY) -> str:
    return "—" if c.low is None else f"{unit.bound(c.low)} to {unit.bound(c.high)}"


def test_text(c: Comparison) -> str:
    """'p = 0.03, 0.06 after Holm's correction for 2 comparisons; paired by seed'."""
    text = p_text(c.p)
    if c.family > 1 and c.p_adjusted is not None:
        text += f", {c.p_adjusted:.2g} after Holm's correction for {c.family} comparisons"
    return text + ("; paired by seed" if c.paired else "; Welch's test, the runs are not paired")


def seeds_line(c: Comparison) -> str:
    """'; about 8 seeds would tell a 2-point gap' from the observed spread ('' when it adds nothing)."""
    gap = max(1, round(abs(c.difference) * 100)) / 100
    need = seeds_needed(gap, c.spread, c.paired) if c.spread else None
    if need is None:
        return f"; even {MOST_SEEDS} seeds would hardly tell a {gap * 100:g}-point gap" if c.spread else ""
    return f"; about {need} seeds would tell a {gap * 100:g}-point gap" if need > c.n else ""


def no_evidence(c: Comparison) -> str | None:
    """Why there is no verdict (one seed, or no spread at all), or None when the test has something to go by."""
    if c.n < 2:
        return "one seed gives no seed-to-seed spread to tell a real difference from luck; run at least two"
    if c.p is None and abs(c.difference) < TINY:
        return f"identical at every one of the {c.n} seeds"
    if c.p is None:
        return (f"the same gap at every one of the {c.n} seeds: with no spread at all the test cannot tell how "
                "much it moves by luck; run more seeds")  # fmt: skip
    return None


def verdict_sentence(c: Comparison, unit: Unit = ACCURACY) -> str:
    """One sentence with the numbers: the difference, its interval, the p-value and the (corrected) verdict."""
    why = no_evidence(c)
    if why is not None:
        return f"{c.other}: {unit.signed(c.difference)} against {c.baseline}, no verdict: {why}."
    head = f"{c.other}: {unit.signed(c.difference)} (95 % CI {ci_text(c, unit)}; {test_text(c)})"
    if c.outcome != "unclear":
        word = unit.higher if c.difference > 0 else unit.lower
        return f"{head}: {word} than {c.baseline} at {c.n} seeds."
    return f"{head}: no clear difference at {c.n} seeds{seeds_line(c) if unit.gap else ''}."


@dataclass(frozen=True)
class VariantStats:
    name: str
    test_acc: tuple[float, ...]  # one per seed, in seed order
    test_loss: tuple[float, ...]
    params: int
    macs: int
    seconds: float  # mean training time of one run
    seeds: tuple[int, ...] | None = None  # the training seeds (None: the i-th run is seed i)

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
