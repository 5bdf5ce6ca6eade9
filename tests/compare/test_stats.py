"""Per-group statistics and verdicts, checked against scipy."""

import numpy as np
import pytest
from scipy import stats as scipy_stats

from src.compare import stats
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
def test_verdict_is_welch_t_test_against_none_in_words(store, reg, word):
    groups = groups_of(store[0])
    v = stats.verdict(groups[reg], groups["none"])
    expected = scipy_stats.ttest_ind(TEST_ACC[reg], TEST_ACC["none"], equal_var=False).pvalue
    assert v.p_value == pytest.approx(expected)
    diff = 100 * (np.mean(TEST_ACC[reg]) - np.mean(TEST_ACC["none"]))
    assert v.text().startswith(f"{reg} vs none: {diff:+.2f} pt, {word}")
    assert f"(p={expected:.2g}, n=3 each)" in v.text()


def test_baseline_defaults_to_none_and_can_be_chosen():
    assert stats.order(["dropout", "none", "batchnorm"], None) == ["none", "batchnorm", "dropout"]
    assert stats.order(["0.01", "0.001"], None) == ["0.001", "0.01"]
    assert stats.order(["dropout", "none"], "dropout") == ["dropout", "none"]
    with pytest.raises(CompareError, match="baseline 'bn' is not a group; groups: dropout, none"):
        stats.order(["dropout", "none"], "bn")
