"""Statistics: hand-computed values, cross-checks against scipy, verdict rules, degenerate cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from campaigns.stats import (
    adjust_bh,
    balance_p,
    bootstrap_ci,
    compare_paired,
    decide,
    signed_rank_p,
    wilcoxon_method,
)
from campaigns.types import Comparison, Verdict

D6 = np.array([1.0, 2.0, -0.5, 3.0, 4.0, 0.2])


def test_wilcoxon_exact_value_by_hand() -> None:
    # |d| ranks: 0.2->1, 0.5->2, 1->3, 2->4, 3->5, 4->6; W- = 2. Subsets of 1..6 summing to <= 2:
    # {}, {1}, {2} -> P(W <= 2) = 3/64, two-sided 6/64.
    p, reason = signed_rank_p(D6)
    assert p == pytest.approx(6 / 64) and reason is None
    assert p == pytest.approx(stats.wilcoxon(D6).pvalue)


def test_compare_paired_matches_scipy_directly() -> None:
    a = np.array([0.5, 0.4, 0.9, 0.3, 0.6, 0.7, 0.8, 0.2, 0.55, 0.65, 0.45, 0.35])
    b = a - np.array([0.1, 0.2, -0.05, 0.15, 0.3, 0.05, 0.25, 0.1, 0.12, 0.0, 0.18, 0.07])
    c = compare_paired(a, b, metric="happy", min_n=10, seed=3)
    d = a - b
    direct = stats.bootstrap((d,), np.mean, n_resamples=9999, method="BCa", rng=np.random.default_rng(3))
    assert c.n == 12 and c.diff == pytest.approx(d.mean())
    assert c.ci_low == pytest.approx(direct.confidence_interval.low)
    assert c.ci_high == pytest.approx(direct.confidence_interval.high)
    # Ties and a zero difference: the normal approximation (see wilcoxon_method).
    assert c.p_value == pytest.approx(stats.wilcoxon(d, method="asymptotic").pvalue)
    assert c.p_adjusted == c.p_value
    assert c.ci_low > 0 and c.p_value < 0.05 and c.verdict == Verdict.A_AHEAD
    flipped = compare_paired(b, a, metric="happy", min_n=10, seed=3)
    assert flipped.verdict == Verdict.B_AHEAD and flipped.diff == pytest.approx(-c.diff)


def test_wilcoxon_method_choice() -> None:
    assert wilcoxon_method(D6) == "exact"
    assert wilcoxon_method(np.array([1.0, -1.0, 2.0])) == "asymptotic"  # tied magnitudes
    assert wilcoxon_method(np.array([0.0, 1.0, 2.0])) == "asymptotic"  # a zero difference
    assert wilcoxon_method(np.arange(1.0, 52.0)) == "asymptotic"  # beyond 50 participants
    tied = np.array([0.1, 0.1, 0.2, -0.3, 0.4, 0.5, 0.2, 0.6, -0.1, 0.7, 0.8, 0.3, 0.9, 1.0, 0.4])
    p, _ = signed_rank_p(tied)
    assert p == pytest.approx(stats.wilcoxon(tied, method="asymptotic").pvalue)
    assert signed_rank_p(tied) == signed_rank_p(tied)  # deterministic


def test_bootstrap_is_seeded_and_reproducible() -> None:
    assert bootstrap_ci(D6, seed=1) == bootstrap_ci(D6, seed=1)
    assert bootstrap_ci(D6, seed=1) != bootstrap_ci(D6, seed=2)


def test_benjamini_hochberg_by_hand_and_scipy() -> None:
    # Sorted p 0.01, 0.03, 0.04, 0.5 (m = 4): 0.5; min(0.04*4/3, .5) = .0533; min(.03*4/2, .0533) = .0533; .04
    ps = {"angry": 0.01, "fear": 0.04, "sad": 0.03, "happy": 0.5}
    cs = {m: Comparison(m, 20, 0.1, 0.05, 0.2, p, p, "A ahead") for m, p in ps.items()}
    cs["valence"] = Comparison("valence", 20, 0.1, 0.05, 0.2, 0.03, 0.03, "A ahead")
    out = adjust_bh(cs, ["angry", "fear", "sad", "happy"], min_n=10)
    assert [out[m].p_adjusted for m in ps] == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.5])
    assert [out[m].p_adjusted for m in ps] == pytest.approx(
        list(stats.false_discovery_control(list(ps.values())))
    )
    assert out["valence"].p_adjusted == 0.03  # outside the family: unadjusted
    assert out["fear"].verdict == Verdict.NO_CLEAR_DIFFERENCE  # 0.053 after adjustment
    assert out["angry"].verdict == Verdict.A_AHEAD


def test_adjustment_skips_nan_p_values() -> None:
    cs = {
        "a": Comparison("a", 0, math.nan, math.nan, math.nan, math.nan, math.nan, "not enough data"),
        "b": Comparison("b", 30, 0.2, 0.1, 0.3, 0.01, 0.01, "A ahead"),
    }
    out = adjust_bh(cs, ["a", "b"], min_n=10)
    assert math.isnan(out["a"].p_adjusted) and out["b"].p_adjusted == pytest.approx(0.01)


@pytest.mark.parametrize(
    ("n", "diff", "low", "high", "p", "expected"),
    [
        (9, 0.5, 0.1, 0.9, 0.001, Verdict.NOT_ENOUGH_DATA),
        (10, 0.5, 0.1, 0.9, 0.001, Verdict.A_AHEAD),
        (10, -0.5, -0.9, -0.1, 0.001, Verdict.B_AHEAD),
        (10, 0.5, -0.1, 0.9, 0.001, Verdict.NO_CLEAR_DIFFERENCE),  # CI includes 0
        (10, 0.5, 0.1, 0.9, 0.05, Verdict.NO_CLEAR_DIFFERENCE),  # p not below alpha
        (10, 0.5, math.nan, math.nan, 0.001, Verdict.NO_CLEAR_DIFFERENCE),
    ],
)
def test_verdict_rules(n: int, diff: float, low: float, high: float, p: float, expected: Verdict) -> None:
    assert decide(n, diff, low, high, p, min_n=10) == expected


def test_degenerate_inputs_return_reasons() -> None:
    empty = compare_paired([], [], metric="happy", min_n=10)
    assert (
        empty.verdict == Verdict.NOT_ENOUGH_DATA and empty.n == 0 and "no participant" in (empty.reason or "")
    )
    zeros = compare_paired(np.full(12, 0.3), np.full(12, 0.3), metric="happy", min_n=10)
    assert (zeros.diff, zeros.ci_low, zeros.ci_high, zeros.p_value) == (0.0, 0.0, 0.0, 1.0)
    assert zeros.verdict == Verdict.NO_CLEAR_DIFFERENCE and "zero" in (zeros.reason or "")
    constant = compare_paired(np.full(12, 0.5), np.full(12, 0.3), metric="happy", min_n=10)
    assert (constant.ci_low, constant.ci_high) == (pytest.approx(0.2), pytest.approx(0.2))
    assert constant.p_value == pytest.approx(stats.wilcoxon(np.full(12, 0.2), method="asymptotic").pvalue)
    assert constant.verdict == Verdict.A_AHEAD
    one = compare_paired([0.4], [0.1], metric="happy", min_n=1)
    assert math.isnan(one.ci_low) and one.verdict == Verdict.NO_CLEAR_DIFFERENCE


def test_nan_pairs_are_a_programming_error() -> None:
    with pytest.raises(ValueError, match="NaN"):
        compare_paired([0.1, math.nan], [0.2, 0.3], metric="happy", min_n=1)


def test_order_balance_binomial_by_hand() -> None:
    # 5 of 12: 2 * (1 + 12 + 66 + 220 + 495 + 792) / 4096
    assert balance_p(5, 7) == pytest.approx(2 * 1586 / 4096)
    assert balance_p(6, 6) == pytest.approx(1.0)
    assert math.isnan(balance_p(0, 0))


def test_order_effect_words_first_and_second() -> None:
    first = np.linspace(0.5, 0.9, 12)
    c = compare_paired(first, first - 0.2, metric="valence", min_n=10, names=("first", "second"))
    assert c.verdict == "first ahead"


def test_fewer_resamples_is_allowed_and_seeded() -> None:
    a, b = np.linspace(0.2, 0.8, 15), np.linspace(0.1, 0.75, 15) ** 1.1
    quick = compare_paired(a, b, metric="happy", min_n=10, n_resamples=999, seed=4)
    direct = stats.bootstrap((a - b,), np.mean, n_resamples=999, rng=np.random.default_rng(4))
    assert quick.ci_low == pytest.approx(direct.confidence_interval.low)
