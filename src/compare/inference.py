"""How sure a verdict is: the difference with its interval, its size in units of the seed spread,
the correction for several comparisons in one report, the seeds that would settle it, and the
noise a finite test set adds on its own.

scipy and statsmodels compute the distributions; the two formulas written here (Hedges' g and
the binomial floor) name their references and are checked against known values in the tests.
"""

import math
import warnings
from typing import Optional

import numpy as np
from scipy import special, stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestIndPower

POWER = 0.8


def welch_interval(group: np.ndarray, baseline: np.ndarray,
                   level: float) -> Optional[tuple[float, float]]:
    """The interval for mean(group) - mean(baseline) with Welch–Satterthwaite degrees of
    freedom (scipy's ttest_ind(equal_var=False).confidence_interval); None below two values a
    side or with no spread at all."""
    if min(len(group), len(baseline)) < 2 or not (np.ptp(group) or np.ptp(baseline)):
        return None
    result = stats.ttest_ind(group, baseline, equal_var=False)
    interval = result.confidence_interval(level)
    return float(interval.low), float(interval.high)


def pooled_std(group: np.ndarray, baseline: np.ndarray) -> float:
    n1, n2 = len(group), len(baseline)
    pooled = ((n1 - 1) * group.var(ddof=1) + (n2 - 1) * baseline.var(ddof=1)) / (n1 + n2 - 2)
    return math.sqrt(pooled)


def hedges_correction(df: int) -> float:
    """J(df) = Γ(df/2) / (√(df/2) Γ((df−1)/2)): Hedges (1981), "Distribution theory for Glass's
    estimator of effect size and related estimators", J. Educ. Stat. 6(2), eq. 6e. Exact, so
    valid at the few seeds a group has (the usual 1 − 3/(4df − 1) is its large-df form)."""
    return math.exp(special.gammaln(df / 2) - 0.5 * math.log(df / 2)
                    - special.gammaln((df - 1) / 2))


def hedges_g(group: np.ndarray, baseline: np.ndarray) -> Optional[float]:
    """Cohen's d (the difference over the pooled seed std) times Hedges' J(n1 + n2 − 2); None
    below two values a side or with no spread."""
    if min(len(group), len(baseline)) < 2:
        return None
    spread = pooled_std(group, baseline)
    if spread == 0:
        return None
    d = (group.mean() - baseline.mean()) / spread
    return float(d * hedges_correction(len(group) + len(baseline) - 2))


def holm(p_values: list[Optional[float]]) -> list[Optional[float]]:
    """Holm's step-down adjustment over the p-values that exist (statsmodels' multipletests);
    a missing p stays missing and is not counted in the family."""
    present = [p for p in p_values if p is not None]
    if not present:
        return list(p_values)
    adjusted = iter(multipletests(present, method="holm")[1])
    return [None if p is None else float(next(adjusted)) for p in p_values]


def seeds_for_power(effect: Optional[float], alpha: float,
                    power: float = POWER) -> Optional[int]:
    """Seeds per group for a two-sided two-sample t-test to reach `power` at standardized
    effect `effect` (statsmodels' TTestIndPower); None when there is no effect to detect."""
    if effect is None or not np.isfinite(effect) or abs(effect) < 1e-9:
        return None
    with warnings.catch_warnings():  # tiny effects: statsmodels warns on its way to a huge n
        warnings.simplefilter("ignore")
        try:
            n = TTestIndPower().solve_power(effect_size=abs(effect), alpha=alpha, power=power,
                                            ratio=1.0, alternative="two-sided")
        except (ValueError, RuntimeError):
            return None
    n = float(np.asarray(n).squeeze())
    return max(2, math.ceil(n)) if np.isfinite(n) else None


def power(effect: float, n: int, alpha: float) -> float:
    """The power of a two-sided two-sample t-test with `n` a group at standardized `effect`
    (statsmodels' TTestIndPower)."""
    if not np.isfinite(effect) or n < 2:
        return 0.0
    return float(TTestIndPower().power(effect_size=abs(effect), nobs1=n, alpha=alpha, ratio=1.0,
                                       alternative="two-sided"))


def detectable_effect(n: int, alpha: float, power: float = POWER) -> Optional[float]:
    """The smallest standardized effect `n` seeds a group detect with `power`."""
    if n < 2:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            effect = TTestIndPower().solve_power(nobs1=n, alpha=alpha, power=power, ratio=1.0,
                                                 alternative="two-sided")
        except (ValueError, RuntimeError):
            return None
    effect = float(np.asarray(effect).squeeze())
    return effect if np.isfinite(effect) else None


def binomial_floor(accuracy: float, n_test: int) -> float:
    """The standard error of an accuracy measured on `n_test` images, √(p(1−p)/n): what a
    finite test set alone makes the score wobble by (the binomial standard error of a
    proportion; K. Jordan, arXiv:2304.01910, sets seed variance against it)."""
    return math.sqrt(accuracy * (1 - accuracy) / n_test)
