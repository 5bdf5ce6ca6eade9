"""Per-group statistics and verdicts, checked against scipy."""

import numpy as np
import pytest
from scipy import stats as scipy_stats

from src.compare import inference, stats
from src.compare.selection import CompareError
from tests.compare.conftest import LOSS, TEST_ACC, VAL_ACC, VAL_LOSS, groups_of


def test_groups_hold_every_seed_with_mean_std_and_t_interval(store):
    groups = groups_of(store[0])
    assert sorted(groups) == ["batchnorm", "dropout", "none"]
    for name, accs in TEST_ACC.items():
        g = groups[name]
        assert g.n == 3 and sorted(r.params["seed"] for r in g.runs) == ["0", "1", "2"]
        assert g.mean == pytest.approx(np.mean(accs))
        assert g.std == pytest.approx(np.std(accs, ddof=1))
        low, high = scipy_stats.t.interval(0.95, 2, loc=np.mean(accs),
                                           scale=scipy_stats.sem(accs))
        assert g.ci == pytest.approx((low, high))


def test_curve_summaries_peak_epoch_loss_gap_and_epoch_time(store):
    g = groups_of(store[0])["none"]
    assert g.best_epoch == 2 and g.best_val_accuracy == pytest.approx(VAL_ACC[1] + 0.001)
    assert g.loss_gap == pytest.approx(LOSS[-1] - VAL_LOSS[-1])
    assert g.epoch_seconds == pytest.approx(3.0) and g.model_params == ["121930"]
    np.testing.assert_allclose(g.curves["val_accuracy"].low, VAL_ACC)
    np.testing.assert_allclose(g.curves["val_accuracy"].high, [v + 0.002 for v in VAL_ACC])


@pytest.mark.parametrize(("reg", "word"),
                         [("dropout", "not significant"), ("batchnorm", "significant")])
def test_verdict_is_welch_t_test_against_none_holm_adjusted_over_the_report(store, reg, word):
    groups = groups_of(store[0])
    found = stats.verdicts([groups["none"], groups["dropout"], groups["batchnorm"]])
    raw = {g: scipy_stats.ttest_ind(TEST_ACC[g], TEST_ACC["none"], equal_var=False).pvalue
           for g in ("dropout", "batchnorm")}
    # Holm over two: the smaller p times 2; the larger times 1, but never below the first.
    (first, p1), (second, p2) = sorted(raw.items(), key=lambda item: item[1])
    holm = {first: min(1.0, 2 * p1), second: min(1.0, max(2 * p1, p2))}
    v = next(v for v in found if v.group == reg)
    assert v.p_value == pytest.approx(raw[reg]) and v.family == 2
    assert v.p_holm == pytest.approx(holm[reg])
    diff = 100 * (np.mean(TEST_ACC[reg]) - np.mean(TEST_ACC["none"]))
    assert v.text().startswith(f"{reg} vs none: {diff:+.2f} pt, {word}")
    assert f"p={raw[reg]:.2g}, Holm p={v.p_holm:.2g} over 2, n=3 each" in v.text()


def test_the_difference_interval_is_welch_satterthwaite():
    a, b = np.array([0.9812, 0.9818, 0.9836, 0.9829]), np.array([0.9810, 0.9820, 0.9830])
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))  # the textbook form
    half = scipy_stats.t.ppf(0.975, df) * np.sqrt(va + vb)
    diff = a.mean() - b.mean()
    assert inference.welch_interval(a, b, 0.95) == pytest.approx((diff - half, diff + half))
    assert inference.welch_interval(a[:1], b, 0.95) is None


def test_hedges_g_is_cohens_d_with_hedges_exact_small_sample_correction():
    assert inference.hedges_correction(2) == pytest.approx(1 / np.sqrt(np.pi))  # Γ(1)/Γ(1/2)
    assert inference.hedges_correction(3) == pytest.approx(np.sqrt(np.pi / 6))  # Γ(3/2)/√1.5
    for df in (40, 200):  # the large-df form, 1 − 3/(4df − 1), converges on it
        assert inference.hedges_correction(df) == pytest.approx(1 - 3 / (4 * df - 1), abs=1e-4)
    a, b = np.array(TEST_ACC["batchnorm"]), np.array(TEST_ACC["none"])
    pooled_t = scipy_stats.ttest_ind(a, b, equal_var=True).statistic
    d = pooled_t * np.sqrt(1 / len(a) + 1 / len(b))  # Cohen's d from scipy's pooled t
    assert inference.hedges_g(a, b) == pytest.approx(d * inference.hedges_correction(4))


def test_holm_adjusts_the_textbook_example_and_leaves_missing_p_out_of_the_family():
    assert inference.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert inference.holm([0.01, None, 0.04]) == [pytest.approx(0.02), None,
                                                  pytest.approx(0.04)]


def test_seeds_for_power_match_cohens_table_and_invert_to_the_detectable_effect():
    # Cohen (1988), Table 2.4.1: two-sided α = .05, power .80: d = .5 needs 64 a group, .8 26.
    assert inference.seeds_for_power(0.5, 0.05) == 64
    assert inference.seeds_for_power(-0.8, 0.05) == 26
    assert inference.seeds_for_power(0.0, 0.05) is None
    assert inference.detectable_effect(64, 0.05) == pytest.approx(0.5, abs=0.01)
    assert inference.detectable_effect(1, 0.05) is None
    assert inference.power(0.5, 64, 0.05) == pytest.approx(0.80, abs=0.005)


@pytest.mark.parametrize(("accuracy", "floor_pt"), [(0.99, 0.10), (0.935, 0.25)])
def test_the_binomial_floor_of_a_10000_image_test_set(accuracy, floor_pt):
    assert 100 * inference.binomial_floor(accuracy, 10_000) == pytest.approx(floor_pt, abs=0.005)


def test_a_group_gets_the_floor_of_the_test_set_its_runs_logged(store):
    group = groups_of(store[0])["none"]
    assert group.n_test is None and group.test_floor is None  # the runs logged no data.n_test
    group.n_test = 10_000
    assert group.test_floor == pytest.approx(np.sqrt(0.982 * 0.018 / 10_000))


def test_an_undecided_verdict_says_how_many_seeds_would_decide_it(store):
    groups = groups_of(store[0])
    v = stats.verdicts([groups["none"], groups["dropout"]])[0]
    assert v.family == 1 and v.p_holm == pytest.approx(v.p_value)
    g = inference.hedges_g(np.array(TEST_ACC["dropout"]), np.array(TEST_ACC["none"]))
    assert v.hedges_g == pytest.approx(g)
    assert v.seeds_needed == inference.seeds_for_power(g, 0.05)
    assert f"~{v.seeds_needed} seeds a group would detect it with 80 % power" in v.text()
    spread = inference.pooled_std(np.array(TEST_ACC["dropout"]), np.array(TEST_ACC["none"]))
    assert v.detectable_pt == pytest.approx(100 * spread * inference.detectable_effect(3, 0.05))


def test_baseline_defaults_to_none_and_can_be_chosen():
    assert stats.order(["dropout", "none", "batchnorm"], None) == ["none", "batchnorm", "dropout"]
    assert stats.order(["0.01", "0.001"], None) == ["0.001", "0.01"]
    assert stats.order(["dropout", "none"], "dropout") == ["dropout", "none"]
    with pytest.raises(CompareError, match="baseline 'bn' is not a group; groups: dropout, none"):
        stats.order(["dropout", "none"], "bn")
