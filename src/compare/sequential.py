"""Seeds until decided: the verdicts of a sweep that adds seeds in rounds, valid however many
rounds it looks at.

A group-sequential design (Jennison & Turnbull, "Group Sequential Methods with Applications to
Clinical Trials", 2000): after round k of K, each variant's Welch p against the baseline is
read as a z-statistic and compared with a boundary c_k. The boundaries spend α with Lan &
DeMets' (1983) O'Brien–Fleming-type function α(t) = 2 − 2Φ(z_{1−α/2} / √t), t = the fraction
of the seeds run: strict early, close to the fixed-sample level at the end. They are exact for
the joint normal law of the looks (Corr(Z_i, Z_j) = √(t_i / t_j)), integrated by scipy's
multivariate normal. Several variants share α by Holm's procedure run as a graph (Maurer &
Bretz 2013, "Multiple testing in group sequential trials using graphical approaches"): each
open variant is tested at α / (open variants); a rejection passes its share to the rest.

A variant is decided **different** when its z crosses the boundary; **futile** when, from the
second round on, even the most favourable effect its data still allow (the far end of the 80 %
Welch interval, over the pooled seed std) would need more seeds than the sweep has for 80 %
power (a non-binding rule: stopping for futility only removes rejections, so α holds); and
**no difference shown** at the last round otherwise. The sweep stops when every variant is
decided. tests/compare/test_sequential.py simulates it: false positives within α over 2,000
null sweeps, and its power on a 0.2 pt effect.
"""

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

import numpy as np
from scipy import optimize, stats

from src.compare import inference

DIFFERENT, FUTILE, NO_DIFFERENCE, UNDECIDED = ("different", "futile", "no difference shown",
                                               "undecided")


def spent(alpha: float, fraction: float) -> float:
    """α spent by information fraction t: Lan & DeMets' O'Brien–Fleming-type function."""
    return 2 - 2 * stats.norm.cdf(stats.norm.ppf(1 - alpha / 2) / math.sqrt(fraction))


def _inside(bounds: tuple[float, ...], fractions: tuple[float, ...]) -> float:
    """P(|Z_i| < c_i for every look i) under the null."""
    if len(bounds) == 1:
        return 1 - 2 * stats.norm.sf(bounds[0])
    t = np.array(fractions)
    cov = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
    upper = np.array(bounds)
    return float(stats.multivariate_normal.cdf(upper, cov=cov, lower_limit=-upper,
                                               abseps=1e-5, releps=1e-5, rng=0))


@lru_cache(maxsize=256)
def boundaries(alpha: float, fractions: tuple[float, ...]) -> tuple[float, ...]:
    """Two-sided z boundaries, one per look, crossing first at look k with probability
    α(t_k) − α(t_{k−1}) under the null."""
    found: list[float] = []
    for k, fraction in enumerate(fractions):
        target = spent(alpha, fraction)  # P(crossing at or before look k)
        looks = fractions[: k + 1]

        def excess(c: float, k=k, target=target, looks=looks) -> float:
            return (1 - _inside((*found, c), looks)) - target

        found.append(optimize.brentq(excess, 0.5, 12.0, xtol=1e-4) if k else
                     float(stats.norm.isf(target / 2)))
    return tuple(found)


FUTILITY_LEVEL = 0.8


@dataclass
class Look:
    """One variant against the baseline after one round."""

    p_value: Optional[float]  # Welch's two-sided p
    reach: Optional[float]  # the largest standardized effect the data still allow


def look(group: np.ndarray, baseline: np.ndarray) -> Look:
    """What a round's per-seed test accuracies say of a variant against the baseline."""
    if min(len(group), len(baseline)) < 2 or not (np.ptp(group) or np.ptp(baseline)):
        return Look(None, None)
    p_value = float(stats.ttest_ind(group, baseline, equal_var=False).pvalue)
    low, high = inference.welch_interval(group, baseline, FUTILITY_LEVEL)
    spread = inference.pooled_std(group, baseline)
    return Look(p_value, max(abs(low), abs(high)) / spread if spread else None)


@dataclass
class Decision:
    state: str  # DIFFERENT, FUTILE, NO_DIFFERENCE or UNDECIDED
    round: Optional[int] = None  # 1-based round it came in


def z_of(p_value: Optional[float]) -> float:
    return 0.0 if p_value is None else float(stats.norm.isf(p_value / 2))


def decide(history: dict[str, list[Look]], fractions: tuple[float, ...], alpha: float,
           max_seeds: int, futile_before: int = 0) -> dict[str, str]:
    """The state of each variant in `history` (the open ones, one Look per round so far, out
    of the len(fractions) planned). `futile_before`: variants stopped as futile in earlier
    rounds; they keep their share of α unused, which only makes the test stricter."""
    rounds = len(next(iter(history.values())))
    states = dict.fromkeys(history, UNDECIDED)
    open_, rejected = set(history), True
    while rejected and open_:  # Holm as a graph: a rejection raises the others' level
        bounds = boundaries(alpha / (len(open_) + futile_before), fractions)
        crossing = sorted(name for name in open_ if any(
            z_of(look.p_value) >= bounds[k] for k, look in enumerate(history[name])))
        rejected = bool(crossing)
        for name in crossing[:1]:  # one at a time: the next is tested at the raised level
            states[name] = DIFFERENT
            open_.discard(name)
    level = alpha / max(len(open_) + futile_before, 1)
    for name in open_:
        if rounds >= 2 and futile(history[name][-1], level, max_seeds):
            states[name] = FUTILE
        elif rounds == len(fractions):
            states[name] = NO_DIFFERENCE
    return states


def replay(history: dict[str, list[Look]], fractions: tuple[float, ...], alpha: float,
           max_seeds: int) -> dict[str, Decision]:
    """The decisions round by round, each with the round it came in: what the sweep decided
    as it went, recomputed the same on a relaunch. A decided variant gets no more seeds, so
    its history ends at its round."""
    decisions = {name: Decision(UNDECIDED) for name in history}
    for rounds in range(1, max(map(len, history.values())) + 1):
        seen = {name: looks[:rounds] for name, looks in history.items()
                if decisions[name].state == UNDECIDED and len(looks) >= rounds}
        if not seen:
            break
        futile_before = sum(d.state == FUTILE for d in decisions.values())
        for name, state in decide(seen, fractions, alpha, max_seeds, futile_before).items():
            if state != UNDECIDED:
                decisions[name] = Decision(state, rounds)
    return decisions


def open_after(decisions: dict[str, Decision]) -> set[str]:
    """The variants that need another round."""
    return {name for name, decision in decisions.items() if decision.state == UNDECIDED}


def futile(seen: Look, level: float, max_seeds: int) -> bool:
    """Even at its reach, `max_seeds` a group would leave the variant under 80 % power."""
    if seen.reach is None:
        return False
    return inference.power(seen.reach, max_seeds, level) < inference.POWER

