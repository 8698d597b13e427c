"""Paired statistics over participants: pure functions over numpy arrays.

All inference comes from scipy.stats (``bootstrap``, ``wilcoxon``,
``false_discovery_control``, ``binomtest``); this module only decides when a
test can run and words the verdict. A test that cannot run returns a
:class:`Comparison` whose NaN fields are explained by ``reason``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
from scipy import stats

from campaigns.types import Comparison, Verdict

ALPHA = 0.05
CONFIDENCE = 0.95
N_RESAMPLES = 9999
# Resamples evaluated per chunk: bounds memory at 1,000+ participants.
_BATCH = 2000


def bootstrap_ci(d: np.ndarray, seed: int, n_resamples: int = N_RESAMPLES) -> tuple[float, float, str | None]:
    """95% BCa bootstrap interval of the mean of ``d``; (nan, nan, reason) if impossible."""
    if d.size < 2:
        return math.nan, math.nan, "a confidence interval needs at least 2 participants"
    if np.ptp(d) == 0:
        # Every resample has the same mean: the interval is that single value.
        return float(d[0]), float(d[0]), None
    result = stats.bootstrap(
        (d,),
        np.mean,
        n_resamples=n_resamples,
        confidence_level=CONFIDENCE,
        method="BCa",
        vectorized=True,
        batch=_BATCH,
        rng=np.random.default_rng(seed),
    )
    low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    if math.isnan(low) or math.isnan(high):
        return math.nan, math.nan, "the bootstrap distribution is degenerate"
    return low, high, None


def wilcoxon_method(d: np.ndarray) -> str:
    """'exact' for up to 50 differences without zeros or tied magnitudes, else 'asymptotic'.

    scipy's 'auto' would switch to a permutation test for ties (random for
    14-50 participants, seconds per call for 13): neither reproducible nor fast
    enough to follow a slider. The normal approximation with tie correction is
    what R's wilcox.test falls back to in the same case.
    """
    nonzero = np.abs(d[d != 0])
    clean = nonzero.size == d.size and np.unique(nonzero).size == nonzero.size
    return "exact" if clean and d.size <= 50 else "asymptotic"


def signed_rank_p(d: np.ndarray) -> tuple[float, str | None]:
    """Two-sided Wilcoxon signed-rank p-value of ``d`` (zeros dropped, scipy's default)."""
    if d.size == 0:
        return math.nan, "no paired participants"
    if not np.any(d != 0):
        # scipy also answers 1.0 here, but with a division warning.
        return 1.0, "all differences are zero"
    return float(stats.wilcoxon(d, method=wilcoxon_method(d)).pvalue), None


def decide(
    n: int,
    diff: float,
    ci_low: float,
    ci_high: float,
    p: float,
    *,
    min_n: int,
    alpha: float = ALPHA,
    names: tuple[str, str] = ("A", "B"),
) -> str:
    """Verdict: ahead only when the p-value is below ``alpha`` and the CI excludes 0."""
    if n < min_n:
        return str(Verdict.NOT_ENOUGH_DATA)
    if any(math.isnan(x) for x in (diff, ci_low, ci_high, p)):
        return str(Verdict.NO_CLEAR_DIFFERENCE)
    if p < alpha and (ci_low > 0 or ci_high < 0):
        return f"{names[0] if diff > 0 else names[1]} ahead"
    return str(Verdict.NO_CLEAR_DIFFERENCE)


def compare_paired(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    metric: str,
    min_n: int,
    seed: int = 0,
    alpha: float = ALPHA,
    names: tuple[str, str] = ("A", "B"),
    n_resamples: int = N_RESAMPLES,
) -> Comparison:
    """Compare paired values ``a[i]`` vs ``b[i]`` (same participant) on ``d = a - b``.

    Returns n, mean difference, a seeded 95% bootstrap CI, the Wilcoxon
    p-value and a verdict; ``p_adjusted`` equals ``p_value`` until
    :func:`adjust_bh` is applied.
    """
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if np.isnan(d).any():
        raise ValueError(f"{metric}: paired values must not contain NaN")
    n = int(d.size)
    reasons: list[str] = []
    if n < min_n:
        reasons.append(f"{n} paired participant(s), fewer than the minimum of {min_n}")
    if n == 0:
        return Comparison(
            metric,
            0,
            math.nan,
            math.nan,
            math.nan,
            math.nan,
            math.nan,
            str(Verdict.NOT_ENOUGH_DATA),
            "no participant has valid data for both variants",
        )
    diff = float(d.mean())
    low, high, why_ci = bootstrap_ci(d, seed, n_resamples)
    p, why_p = signed_rank_p(d)
    reasons += [r for r in (why_ci, why_p) if r]
    verdict = decide(n, diff, low, high, p, min_n=min_n, alpha=alpha, names=names)
    return Comparison(metric, n, diff, low, high, p, p, verdict, "; ".join(reasons) or None)


def adjust_bh(
    comparisons: Mapping[str, Comparison], family: Sequence[str], *, min_n: int, alpha: float = ALPHA
) -> dict[str, Comparison]:
    """Benjamini-Hochberg adjust the p-values of ``family`` and redo their verdicts.

    Metrics outside the family keep ``p_adjusted == p_value``; NaN p-values
    take no part in the adjustment.
    """
    result = dict(comparisons)
    members = [m for m in family if m in result and not math.isnan(result[m].p_value)]
    if not members:
        return result
    adjusted = stats.false_discovery_control([result[m].p_value for m in members], method="bh")
    for metric, p_adj in zip(members, adjusted, strict=True):
        c = result[metric]
        verdict = decide(c.n, c.diff, c.ci_low, c.ci_high, float(p_adj), min_n=min_n, alpha=alpha)
        result[metric] = replace(c, p_adjusted=float(p_adj), verdict=verdict)
    return result


def balance_p(ab: int, ba: int) -> float:
    """Exact binomial test of equal A-B and B-A counts (NaN with nobody)."""
    if ab + ba == 0:
        return math.nan
    return float(stats.binomtest(ab, ab + ba, 0.5).pvalue)
