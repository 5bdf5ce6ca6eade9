"""Per-image evidence: seed ensembles, and McNemar's exact test between a group's ensemble and
the baseline's, from the predictions.npz each run logs."""

import numpy as np
import pytest
from scipy import stats as scipy_stats

from src.compare import cli, comparison, per_image
from src.tracking import predictions
from src.tracking.predictions import Predictions
from tests.compare.conftest import log_run

Y_TRUE = np.array([0, 1, 2, 0, 1, 2, 0, 1])


def seed(y_pred, probabilities=None) -> Predictions:
    return Predictions(Y_TRUE, np.array(y_pred), probabilities)


def test_an_ensemble_averages_the_seeds_probabilities():
    confident = np.eye(3)[[0, 1, 2, 0, 1, 2, 0, 2]] * 0.9 + 0.05
    unsure = np.full((8, 3), 0.2)
    unsure[np.arange(8), [1, 1, 2, 0, 1, 2, 0, 1]] = 0.6
    found = per_image.ensemble("dropout", [seed(confident.argmax(1), confident),
                                           seed(unsure.argmax(1), unsure)])
    mean = (confident + unsure) / 2
    assert found.how == "mean probability" and found.seeds == 2
    np.testing.assert_array_equal(found.correct, mean.argmax(1) == Y_TRUE)


def test_without_probabilities_an_ensemble_is_the_seeds_majority_vote():
    found = per_image.ensemble("none", [seed([0, 1, 2, 0, 1, 2, 0, 0]),
                                        seed([0, 1, 2, 0, 1, 2, 1, 0]),
                                        seed([1, 1, 2, 0, 1, 2, 1, 1])])
    assert found.how == "majority vote"
    np.testing.assert_array_equal(found.correct, [1, 1, 1, 1, 1, 1, 0, 0])
    assert found.accuracy == 0.75


def test_seeds_scored_on_different_test_images_make_no_ensemble():
    other = Predictions(Y_TRUE[::-1], Y_TRUE, None)
    assert per_image.ensemble("none", [seed(Y_TRUE), other]) is None


def test_the_paired_test_is_mcnemars_exact_binomial_on_the_discordant_images():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 10, 1000)
    base = per_image.Ensemble("none", 3, truth, rng.random(1000) < 0.90, "majority vote")
    group = per_image.Ensemble("bn", 3, truth, rng.random(1000) < 0.93, "majority vote")
    found = per_image.pair(group, base)
    only_group = int(np.sum(group.correct & ~base.correct))
    only_base = int(np.sum(~group.correct & base.correct))
    assert (found.only_group, found.only_baseline) == (only_group, only_base)
    # the exact McNemar test is the two-sided binomial test of the discordant pairs at 1/2
    expected = scipy_stats.binomtest(only_group, only_group + only_base, 0.5).pvalue
    assert found.p_value == pytest.approx(expected)


def log_with_predictions(client, exp_id, reg, seed_number, accuracy, tmp_path, rng):
    run_id = log_run(client, exp_id, reg, seed_number, accuracy)
    truth = np.arange(200) % 10
    right = rng.random(200) < accuracy
    y_pred = np.where(right, truth, (truth + 1) % 10)
    path = tmp_path / f"{run_id}.npz"
    predictions.write(path, truth, y_pred, np.eye(10, dtype=np.float32)[y_pred])
    client.log_artifact(run_id, str(path.rename(path.with_name(predictions.ARTIFACT))))
    return run_id


def test_the_report_shows_ensembles_and_paired_tests_when_every_run_logged_predictions(
        empty_store, tmp_path):
    uri, client, exp_id = empty_store
    rng = np.random.default_rng(1)
    for reg, accuracy in (("none", 0.80), ("dropout", 0.82), ("batchnorm", 0.95)):
        for number in range(3):
            log_with_predictions(client, exp_id, reg, number, accuracy + number / 100,
                                 tmp_path, rng)
    report, path = comparison.compare(cli.parse(
        ["--tracking-uri", uri, "--no-log", "--out", str(tmp_path / "r")]))
    assert [e.label for e in report.per_image.ensembles] == ["none", "batchnorm", "dropout"]
    assert [p.group for p in report.per_image.paired] == ["batchnorm", "dropout"]
    md = path.read_text()
    assert "## Per image" in md and "McNemar's exact test" in md
    assert ("| group | seeds | seed-ensemble acc. % | mean seed acc. % | right only here | "
            "right only in none | McNemar p | Holm p |") in md
    batchnorm = next(p for p in report.per_image.paired if p.group == "batchnorm")
    assert batchnorm.p_holm < 0.05 and batchnorm.only_group > batchnorm.only_baseline


def test_runs_logged_before_predictions_get_the_report_without_the_section(store, tmp_path):
    uri, _, _ = store
    report, path = comparison.compare(cli.parse(
        ["--tracking-uri", uri, "--no-log", "--out", str(tmp_path / "r")]))
    assert report.per_image is None
    md = path.read_text()
    assert "## Per image" not in md and "No per-image section" in md
