"""Seeds until decided: the group-sequential boundaries against published values, and the false
positives and power of the whole procedure over simulated sweeps, with no training."""

import math

import numpy as np
import pytest
from scipy import stats

from src.compare import sequential
from src.compare.sequential import DIFFERENT, FUTILE, NO_DIFFERENCE, UNDECIDED, Look

ALPHA, SEEDS_PER_ROUND, MAX_SEEDS = 0.05, 2, 8
FRACTIONS = tuple(k / (MAX_SEEDS // SEEDS_PER_ROUND)
                  for k in range(1, MAX_SEEDS // SEEDS_PER_ROUND + 1))


@pytest.mark.parametrize(("looks", "constant"), [(2, 1.977), (3, 2.004), (4, 2.024), (5, 2.040)])
def test_the_joint_law_of_the_looks_gives_obrien_flemings_published_constants(looks, constant):
    # Jennison & Turnbull (2000), Table 2.3: O'Brien & Fleming's boundaries C·√(K/k) hold the
    # two-sided error of K equally spaced looks at α = 0.05.
    fractions = tuple(k / looks for k in range(1, looks + 1))
    bounds = tuple(constant * math.sqrt(looks / k) for k in range(1, looks + 1))
    assert 1 - sequential._inside(bounds, fractions) == pytest.approx(0.05, abs=3e-4)


def test_the_boundaries_spend_alpha_as_lan_and_demets_obrien_fleming_function_says():
    bounds = sequential.boundaries(ALPHA, FRACTIONS)
    assert bounds[0] == pytest.approx(stats.norm.isf(sequential.spent(ALPHA, 0.25) / 2))
    assert bounds[0] == pytest.approx(1.95996 / math.sqrt(0.25), abs=1e-4)  # z / √t at look 1
    assert list(bounds) == sorted(bounds, reverse=True) and bounds[-1] > 1.96  # strict early
    for k in range(1, len(FRACTIONS) + 1):  # the error spent by look k is α(t_k)
        crossed = 1 - sequential._inside(bounds[:k], FRACTIONS[:k])
        assert crossed == pytest.approx(sequential.spent(ALPHA, FRACTIONS[k - 1]), abs=5e-4)
    assert sequential.spent(ALPHA, 1.0) == pytest.approx(ALPHA)


def simulate(effects_pt: list[float], std_pt: float, reps: int, seed: int) -> list[dict]:
    """Sweeps of a baseline and one variant per effect, seeds added two at a time up to eight,
    each round read as a real sweep reads it; their decisions."""
    rng = np.random.default_rng(seed)
    outcomes = []
    for _ in range(reps):
        base = rng.normal(0, std_pt, MAX_SEEDS)
        variants = {f"v{i}": rng.normal(effect, std_pt, MAX_SEEDS)
                    for i, effect in enumerate(effects_pt)}
        history = {name: [] for name in variants}
        decided = {name: sequential.Decision(UNDECIDED) for name in variants}
        for n in range(SEEDS_PER_ROUND, MAX_SEEDS + 1, SEEDS_PER_ROUND):
            for name in sequential.open_after(decided):  # a decided variant gets no more seeds
                history[name].append(sequential.look(variants[name][:n], base[:n]))
            decided = sequential.replay(history, FRACTIONS, ALPHA, MAX_SEEDS)
            if not sequential.open_after(decided):
                break
        outcomes.append({name: decision.state for name, decision in decided.items()})
    return outcomes


@pytest.mark.slow  # half a minute of simulation: out of the everyday loop, in CI
@pytest.mark.parametrize("variants", [1, 2])
def test_over_2000_null_comparisons_the_false_positive_rate_stays_within_alpha(variants):
    sweeps = 2000 // variants  # two variants: 1,000 sweeps of two null comparisons each
    outcomes = simulate([0.0] * variants, std_pt=0.1, reps=sweeps, seed=variants)
    any_false = np.mean([DIFFERENT in decided.values() for decided in outcomes])
    slack = 3 * math.sqrt(ALPHA * (1 - ALPHA) / sweeps)  # three Monte-Carlo standard errors
    assert any_false <= ALPHA + slack, any_false
    assert all(UNDECIDED not in decided.values() for decided in outcomes)


@pytest.mark.slow
def test_a_02_point_effect_at_mnists_seed_spread_is_found_about_as_often_as_with_8_seeds():
    outcomes = simulate([0.2], std_pt=0.1, reps=500, seed=7)
    power = np.mean([decided["v0"] == DIFFERENT for decided in outcomes])
    print(f"power on a 0.2 pt effect, seed std 0.1 pt, 2..8 seeds: {power:.2f}")
    assert power >= 0.9  # a fixed 8-seed Welch test: 0.96; this stops early most times


def test_decisions_replay_round_by_round_with_the_round_each_came_in():
    history = {"dropout": [Look(0.5, 0.3), Look(1e-9, 3.0)],
               "batchnorm": [Look(0.9, 0.01), Look(0.95, 0.01)]}
    decided = sequential.replay(history, FRACTIONS, ALPHA, MAX_SEEDS)
    assert (decided["dropout"].state, decided["dropout"].round) == (DIFFERENT, 2)
    assert (decided["batchnorm"].state, decided["batchnorm"].round) == (FUTILE, 2)
    last = {"none-like": [Look(0.5, 2.5)] * len(FRACTIONS)}  # powered, never crossing
    assert sequential.replay(last, FRACTIONS, ALPHA, MAX_SEEDS)["none-like"].state == (
        NO_DIFFERENCE)


def test_a_variant_stopped_as_futile_keeps_its_share_of_alpha():
    # Crossing at α / 2 but not at α / 1 at the last look: z between the two boundaries.
    strict, loose = (sequential.boundaries(a, FRACTIONS)[-1] for a in (ALPHA / 2, ALPHA))
    p_between = 2 * stats.norm.sf((strict + loose) / 2)
    history = {"futile": [Look(0.9, 0.1), Look(0.9, 0.1)],  # stopped at round 2
               "close": [Look(0.5, 3.0)] * (len(FRACTIONS) - 1) + [Look(p_between, 3.0)]}
    decided = sequential.replay(history, FRACTIONS, ALPHA, MAX_SEEDS)
    assert decided["futile"].state == FUTILE
    assert decided["close"].state == NO_DIFFERENCE  # tested at α / 2, not α
