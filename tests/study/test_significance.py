"""The tests behind the Experiments page's verdicts, against independent references: hand formulas, a worked
Holm example, a power table, scipy's binomial test, and simulations of many experiments (no training).

The simulations draw test accuracies like SimpleCNN's on hard shapes (87.4 % ± 1.2 over seeds, on 240 test
images, so rounded to whole images) and run the very functions the page uses, vectorised over experiments.
With S simulated experiments a rate's standard error is at most √(0.25 / S); each bound allows 3 of them.
"""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from cnn_core.study.significance import (
    ALPHA,
    claimed,
    holm,
    paired_test,
    power,
    seeds_needed,
    welch_test,
    wilson,
)
from cnn_core.study.statistics import compare, corrected

IMAGES, MEAN, SEED_SD, NOISE_SD = 240, 0.874, 0.008, 0.009  # seed effect shared by the variants, and each run's own
RUN_SD = math.hypot(SEED_SD, NOISE_SD)  # 1.2 points: one run's spread over seeds
S = 20_000  # simulated experiments per check
TOL = 3 * math.sqrt(ALPHA * (1 - ALPHA) / S)  # 3 standard errors of a rate near 5 %: 0.0046


def _images(acc: np.ndarray) -> np.ndarray:
    return np.round(acc * IMAGES) / IMAGES


def _paired(rng, seeds: int, gap: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """S experiments of two variants that share each seed's luck (same data order), b better by `gap`."""
    seed = rng.normal(0, SEED_SD, (S, seeds))
    a = _images(MEAN + seed + rng.normal(0, NOISE_SD, (S, seeds)))
    return a, _images(MEAN + gap + seed + rng.normal(0, NOISE_SD, (S, seeds)))


def _unpaired(rng, seeds: int, gap: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    return _images(rng.normal(MEAN, RUN_SD, (S, seeds))), _images(rng.normal(MEAN + gap, RUN_SD, (S, seeds)))


# ---------------------------------------------------------------- under no true difference


def test_no_true_difference_is_claimed_at_most_5_percent_of_the_time_at_3_seeds():
    rng = np.random.default_rng(2026)
    a, b = _paired(rng, 3)
    assert claimed(paired_test(a, b).p).mean() <= ALPHA + TOL
    a, b = _unpaired(rng, 3)
    assert claimed(welch_test(a, b).p).mean() <= ALPHA + TOL
    assert claimed(paired_test(a, b).p).mean() <= ALPHA + TOL  # pairing runs that share nothing is still valid
    # The old rule (a gap larger than the larger sample std) claims a difference in about a fifth of them:
    old = np.abs(b.mean(1) - a.mean(1)) > np.maximum(a.std(1, ddof=1), b.std(1, ddof=1))
    assert old.mean() > 0.15


def test_holm_keeps_two_variants_against_one_baseline_at_5_percent():
    rng = np.random.default_rng(7)
    a, b = _unpaired(rng, 3)
    c = _images(rng.normal(MEAN, RUN_SD, (S, 3)))
    p = np.stack([paired_test(a, b).p, paired_test(a, c).p], axis=-1)
    assert claimed(holm(p)).any(axis=-1).mean() <= ALPHA + TOL  # any false claim among the two
    assert claimed(p).any(axis=-1).mean() > ALPHA + TOL  # uncorrected, two chances: about 8 %


# ---------------------------------------------------------------- a true difference


def test_a_gap_of_two_and_a_half_difference_sds_is_found_at_5_seeds_almost_always():
    sd = math.sqrt(2) * NOISE_SD  # one seed's difference: the shared seed luck cancels
    gap = 2.5 * sd  # 3.2 points
    a, b = _paired(np.random.default_rng(11), 5, gap)
    found = claimed(paired_test(a, b).p).mean()
    assert found >= 0.95  # the power: 98 % by the noncentral t distribution
    assert found == pytest.approx(power(gap, sd, 5), abs=3 * math.sqrt(0.25 / S) + 0.01)  # + rounding to images


def test_welch_finds_a_gap_of_three_run_sds_at_5_seeds_almost_always():
    gap = 3 * RUN_SD  # 3.6 points
    a, b = _unpaired(np.random.default_rng(12), 5, gap)
    found = claimed(welch_test(a, b).p).mean()
    assert found >= 0.95
    assert found == pytest.approx(power(gap, math.sqrt(2) * RUN_SD, 5, paired=False), abs=0.02)


def test_seeds_needed_matches_the_power_table_and_a_simulation():
    # One-sample (paired) t-test, two-sided α = 0.05, power 80 %: effect size 1 needs 10, 0.5 needs 34
    # (Cohen 1988, table 2.4.1; G*Power gives the same).
    assert seeds_needed(1.0, 1.0) == 10 and seeds_needed(0.5, 1.0) == 34
    assert seeds_needed(-1.0, 1.0) == 10
    sd = math.sqrt(2) * NOISE_SD
    need = seeds_needed(0.01, sd)  # a 1-point gap
    rng = np.random.default_rng(13)
    assert claimed(paired_test(*_paired(rng, need, 0.01)).p).mean() >= 0.8 - 0.02
    assert claimed(paired_test(*_paired(rng, need - 1, 0.01)).p).mean() < 0.8 + 0.02
    assert seeds_needed(0.01, 0.0) is None and seeds_needed(0.0, 0.01) is None
    assert seeds_needed(0.001, 1.0) is None  # past 100 seeds


# ---------------------------------------------------------------- never a claim without evidence


@pytest.mark.parametrize(
    "base, other",
    [([0.8], [0.9]),  # one seed
     ([0.80, 0.85, 0.90], [0.80, 0.85, 0.90]),  # identical results
     ([0.70, 0.74, 0.72], [0.72, 0.76, 0.74]),  # the same gap at every seed: zero spread of the differences
     ([0.1, 0.2, 0.3], [0.2, 0.3, 0.4]),  # the same gap, but floats make the differences differ by 1e-17
     ([0.875, 0.875], [0.879166, 0.879166])],  # two seeds that tie, one image apart
)  # fmt: skip
def test_no_spread_or_one_seed_is_never_a_claimed_difference(base, other):
    c = corrected([compare("a", base, "b", other)])[0]
    assert c.p is None and c.low is None and c.outcome == "unclear"
    for test in (paired_test, welch_test):
        t = test(np.array([base] * 4), np.array([other] * 4))
        assert not claimed(t.p).any()


def test_welch_is_used_when_the_seeds_differ():
    c = compare("a", [0.70, 0.74, 0.72], "b", [0.75, 0.76], base_seeds=(0, 1, 2), other_seeds=(0, 2))
    assert not c.paired and c.n == 2


# ---------------------------------------------------------------- the numbers, by hand


def test_the_paired_t_test_against_the_hand_formula():
    base, other = [0.70, 0.74, 0.72], [0.75, 0.76, 0.77]  # differences 0.05, 0.02, 0.05
    d = [o - b for o, b in zip(other, base)]
    se = statistics.stdev(d) / math.sqrt(3)  # 0.01732 / √3 = 0.01
    t = statistics.mean(d) / se  # 4.0
    # Student's t with 2 degrees of freedom has a closed form: F(t) = ½ + t / (2√(t² + 2)).
    p = 1 - t / math.sqrt(t * t + 2)  # 0.0572
    q = 0.95 * math.sqrt(2 / (1 - 0.95**2))  # its 97.5 % point: 4.303
    c = compare("a", base, "b", other)
    assert c.paired and c.n == 3
    assert c.difference == pytest.approx(0.04) and c.spread == pytest.approx(statistics.stdev(d))
    assert c.p == pytest.approx(p, rel=1e-9)
    assert (c.low, c.high) == pytest.approx((0.04 - q * se, 0.04 + q * se), rel=1e-9)
    assert c.outcome == "unclear"  # p = 0.057: the old rule called this "better"


def test_welchs_test_against_the_hand_formula():
    from scipy import stats

    a, b = [0.70, 0.74, 0.72, 0.71], [0.75, 0.76, 0.80]
    va, vb = statistics.variance(a) / 4, statistics.variance(b) / 3
    t = (statistics.mean(b) - statistics.mean(a)) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / 3 + vb**2 / 2)  # Welch–Satterthwaite
    c = compare("a", a, "b", b, base_seeds=range(4), other_seeds=range(3))
    assert not c.paired
    assert c.p == pytest.approx(2 * stats.t.sf(abs(t), df), rel=1e-9)
    half = stats.t.ppf(0.975, df) * math.sqrt(va + vb)
    assert (c.low, c.high) == pytest.approx((c.difference - half, c.difference + half), rel=1e-9)


def test_holm_against_a_worked_example():
    # Sorted: 0.005 × 4 = 0.02; 0.01 × 3 = 0.03; 0.03 × 2 = 0.06; 0.04 × 1 = 0.04 → kept at 0.06 (order).
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert list(claimed(holm([0.01, 0.04, 0.03, 0.005]))) == [True, False, False, True]
    assert holm([0.2, 0.9]) == pytest.approx([0.4, 0.9])
    assert holm([0.7, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1
    out = holm([0.02, np.nan, 0.04])  # a comparison without a test is not counted: m = 2
    assert out[0] == pytest.approx(0.04) and np.isnan(out[1]) and out[2] == pytest.approx(0.04)
    rows = holm(np.array([[0.01, 0.04], [0.04, 0.01]]))  # row by row
    assert rows == pytest.approx(np.array([[0.02, 0.04], [0.04, 0.02]]))


def test_corrected_comparisons_carry_holms_p_and_their_number():
    base = [0.70, 0.74, 0.72]
    comps = corrected([compare("a", base, "b", [0.60, 0.66, 0.62]), compare("a", base, "c", [0.73, 0.75, 0.74])])
    ps = [c.p for c in comps]
    assert [c.p_adjusted for c in comps] == pytest.approx(list(holm(ps)))
    assert all(c.family == 2 for c in comps)


@pytest.mark.parametrize("k, n", [(0, 10), (3, 10), (10, 10), (210, 240), (1, 1), (500, 1000)])
def test_wilson_interval_matches_scipy(k, n):
    from scipy import stats

    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert wilson(k, n) == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_wilson_refuses_impossible_counts():
    with pytest.raises(ValueError, match="at least one image"):
        wilson(0, 0)
    with pytest.raises(ValueError, match="from 0 to 10"):
        wilson(11, 10)
