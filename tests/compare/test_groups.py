"""How selected runs are grouped, and what the report warns about a group."""

import pytest

from src.compare import groups
from src.compare.selection import MixedDatasetError
from tests.compare.conftest import groups_of, log_run, selected


def test_repeated_seed_and_differing_setting_are_reported_as_caveats(store):
    uri, client, exp_id = store
    log_run(client, exp_id, "none", 0, 0.98, sweep="multirun/b", epochs=5)
    records, cfg = selected(uri)
    assert groups.caveats(groups.group(records, cfg.by), cfg.by) == [
        "group 'none' holds seed(s) 0 more than once, so those runs are not independent "
        "samples; pick one sweep (--sweep-dir)",
        "group 'none': trainer.epochs differs between its runs (3, 5)"]


def test_a_setting_that_differs_between_groups_besides_the_grouped_one_is_a_caveat(empty_store):
    uri, client, exp_id = empty_store
    for seed in (0, 1):
        log_run(client, exp_id, "none", seed, 0.89, epochs=10)
        log_run(client, exp_id, "dropout", seed, 0.86, epochs=15)
    records, cfg = selected(uri)
    assert groups.caveats(groups.group(records, cfg.by), cfg.by) == [
        "trainer.epochs differs between the groups (dropout: 15; none: 10), so they differ in "
        "more than reg.name"]


def test_group_mixing_datasets_names_them(store):
    uri, client, exp_id = store
    log_run(client, exp_id, "none", 0, 0.90, dataset="fashion_mnist")
    with pytest.raises(MixedDatasetError, match="group 'none' mixes datasets \\(fashion_mnist: "
                       "fashion_mnist-cnn-none-s0; mnist: mnist-cnn-none-s0"):
        groups_of(uri)
    assert set(groups_of(uri, "--by", "dataset", "reg")) >= {"dataset=fashion_mnist reg=none"}


def test_single_seed_groups_suggest_the_seed_sweep_with_the_same_settings(empty_store):
    uri, client, exp_id = empty_store
    log_run(client, exp_id, "none", 0, 0.9893)
    log_run(client, exp_id, "dropout", 0, 0.9900)
    records, cfg = selected(uri)
    assert groups.seed_sweep_command(records, cfg.by) == (
        "python -m src.train -m reg=dropout,none seed=0,1,2 trainer.epochs=3")


def test_a_group_of_combined_regularizers_is_swept_as_the_list_it_was_chosen_as():
    assert groups.as_choice("batchnorm+dropout") == "[batchnorm,dropout]"
    assert groups.as_choice("dropout") == "dropout"
