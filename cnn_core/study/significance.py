"""Is a difference real? The tests behind the Experiments page's verdicts, on numbers (no torch).

- `paired_test`: the variants of an exercise share data, split and seeds, so each seed gives one difference;
  a t-test on those differences (scipy's `ttest_rel`) with its 95 % confidence interval.
- `welch_test`: Welch's t-test (scipy's `ttest_ind(equal_var=False)`) where the runs are not paired.
- `holm`: Holm's step-down correction when several variants are compared with one baseline.
- `seeds_needed`: how many seeds the paired t-test needs to find a gap most of the time (power 80 %).
- `wilson`: the Wilson interval of an accuracy measured on n images.

Both tests work on arrays along the last axis (one experiment per row), so that a test can simulate many
experiments at once through the very code the page uses. A test without evidence gives p = nan and is never
a claimed difference: fewer than two values, or no spread at all (every seed's difference the same).
scipy is imported only when a test runs: it takes about a second to import.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from dataclasses import dataclass

import numpy as np

ALPHA = 0.05  # a difference is claimed when its (corrected) p-value is below this
LEVEL = 0.95  # the confidence intervals' level
POWER = 0.8  # "would tell a gap": the share of experiments that would find it
MOST_SEEDS = 100  # seeds_needed gives up beyond this
Z95 = 1.959963984540054  # the normal distribution's 97.5 % point
TINY = 1e-9  # a spread this small is rounding (0.72 − 0.70 ≠ 0.76 − 0.74 in floats), not seed-to-seed spread


@dataclass(frozen=True)
class Tested:
    """One test's numbers; arrays with one entry per experiment (or 0-d for one experiment)."""

    difference: np.ndarray  # mean difference (b − a)
    low: np.ndarray  # 95 % confidence interval of the difference (nan without evidence)
    high: np.ndarray
    p: np.ndarray  # two-sided p-value; nan without evidence
    spread: np.ndarray  # the sample std of one seed's difference (paired) or of a difference of two runs
    n: int  # seeds: pairs (paired) or the smaller side (Welch)


def _no_evidence(result, spread: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """p, low, high with nan wherever there is nothing to judge luck by."""
    ci = result.confidence_interval(LEVEL)
    bad = ~(spread > TINY) | (n < 2)
    return tuple(np.where(bad, np.nan, np.asarray(x, dtype=float)) for x in (result.pvalue, ci.low, ci.high))


@contextlib.contextmanager
def _quiet():
    """No warnings from scipy about data without spread: those tests are set to nan (no evidence) anyway."""
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def paired_test(a, b) -> Tested:
    """The t-test on the per-seed differences b − a (a and b hold the same seeds, in the same order)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"a paired test needs the same seeds on both sides, got {a.shape[-1]} and {b.shape[-1]}")
    d, n = b - a, a.shape[-1]
    spread = d.std(axis=-1, ddof=1) if n >= 2 else np.full(d.shape[:-1], np.nan)
    if n < 2:
        nan = np.full(d.shape[:-1], np.nan)
        return Tested(d.mean(axis=-1), nan, nan, nan, spread, n)
    from scipy import stats

    with _quiet():
        result = stats.ttest_rel(b, a, axis=-1)
    p, low, high = _no_evidence(result, spread, n)
    return Tested(d.mean(axis=-1), low, high, p, spread, n)


def welch_test(a, b) -> Tested:
    """Welch's t-test of mean(b) − mean(a) for runs that are not paired (each side may have its own count)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    n = min(a.shape[-1], b.shape[-1])
    diff = b.mean(axis=-1) - a.mean(axis=-1)
    if n < 2:
        nan = np.full(diff.shape, np.nan)
        return Tested(diff, nan, nan, nan, nan, n)
    from scipy import stats

    spread = np.sqrt(a.var(axis=-1, ddof=1) + b.var(axis=-1, ddof=1))
    with _quiet():
        result = stats.ttest_ind(b, a, axis=-1, equal_var=False)
    p, low, high = _no_evidence(result, spread, n)
    return Tested(diff, low, high, p, spread, n)


def holm(p) -> np.ndarray:
    """Holm's adjusted p-values along the last axis (nan, a comparison without a test, is left out of the count).

    Sorted ascending, the i-th smallest of m p-values is multiplied by m − i (i from 0), the running maximum
    taken so the order is kept, and capped at 1. Rejecting where the adjusted p < α keeps the chance of any
    false claim among the m comparisons at most α (Holm 1979).
    """
    p = np.asarray(p, dtype=float)
    order = np.argsort(np.where(np.isnan(p), np.inf, p), axis=-1)
    ranked = np.take_along_axis(p, order, axis=-1)
    m = (~np.isnan(p)).sum(axis=-1, keepdims=True)
    scaled = np.minimum(1.0, (m - np.arange(p.shape[-1])) * ranked)
    scaled = np.fmax.accumulate(scaled, axis=-1)  # fmax: a nan (sorted last) does not spread
    out = np.empty_like(p)
    np.put_along_axis(out, order, np.where(np.isnan(ranked), np.nan, scaled), axis=-1)
    return out


def claimed(p_adjusted) -> np.ndarray:
    """Whether a difference is claimed: its corrected p-value is below α (never where there is no p-value)."""
    return np.asarray(p_adjusted, dtype=float) < ALPHA  # nan < α is False


def power(gap: float, spread: float, n: int, paired: bool = True) -> float:
    """The chance that the two-sided t-test at α finds a true `gap`, at n seeds, with differences spread by `spread`.

    Paired: the one-sample t-test on n differences of std `spread`. Not paired: n runs a side, `spread` the
    std of a difference of two runs, with 2(n − 1) degrees of freedom (Welch's with equal spreads).
    """
    from scipy import stats

    df = n - 1 if paired else 2 * (n - 1)
    shift = gap / spread * math.sqrt(n)  # the mean difference over its standard error (both cases)
    t = stats.t.ppf(1 - ALPHA / 2, df)
    return float(stats.nct.sf(t, df, shift) + stats.nct.cdf(-t, df, shift))


def seeds_needed(gap: float, spread: float, paired: bool = True) -> int | None:
    """The fewest seeds (2 or more) at which the test finds a true `gap` with 80 % power; None past MOST_SEEDS
    or without a spread to go by."""
    if not (spread > 0 and math.isfinite(spread)) or gap == 0:
        return None
    return next((n for n in range(2, MOST_SEEDS + 1) if power(abs(gap), spread, n, paired) >= POWER), None)


def wilson(correct: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of `correct` right out of `n` (95 % by default): better than ± 1.96·SE near
    0 or 100 % and for few images (it stays inside 0 to 1)."""
    if n <= 0:
        raise ValueError("an accuracy's interval needs at least one image")
    if not 0 <= correct <= n:
        raise ValueError(f"correct must be from 0 to {n}, got {correct}")
    share, z2 = correct / n, z * z
    centre = (share + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(share * (1 - share) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def accuracy_interval(acc: float, n: int) -> tuple[float, float]:
    """The Wilson interval of an accuracy measured on n images (acc × n is rounded to whole images)."""
    return wilson(round(acc * n), n)
