"""Pruning a study's trials: the pruner chosen in config (none, median, hyperband, or any
Optuna pruner by `_target_`), refused in one line before any trial when it cannot work.
(End to end, across processes, with a kill: tests/tracking/test_pruned_study.py.)"""

import pytest
from hydra import compose, initialize_config_dir
from optuna.pruners import HyperbandPruner, MedianPruner

from src.config import CONF_DIR, ConfigError, register
from src.search import pruning
from src.search import space as search_space


def study_config(*overrides: str, tmp_path):
    register()
    with initialize_config_dir(CONF_DIR, version_base="1.3"):
        return compose("config", ["hparams_search=mnist_cnn", f"hydra.sweep.dir={tmp_path}",
                                  *overrides], return_hydra_config=True)


def test_the_presets_prune_with_the_median_and_a_plain_study_does_not(tmp_path):
    preset = study_config(tmp_path=tmp_path).hydra.sweeper.pruner
    assert isinstance(pruning.make(preset), MedianPruner)
    register()
    with initialize_config_dir(CONF_DIR, version_base="1.3"):
        plain = compose("config", ["hydra/sweeper=optuna"], return_hydra_config=True)
    assert pruning.make(plain.hydra.sweeper.pruner) is None


def test_hyperband_is_a_choice_of_its_own(tmp_path):
    config = study_config("hydra/sweeper/pruner=hyperband", tmp_path=tmp_path)
    assert isinstance(pruning.make(config.hydra.sweeper.pruner), HyperbandPruner)


@pytest.mark.parametrize(("override", "message"), [
    ("hydra.sweeper.pruner.n_startup_trials=-1",
     "hydra.sweeper.pruner \\(optuna.pruners.MedianPruner\\): Number of startup trials cannot "
     "be negative"),
    ("hydra.sweeper.pruner._target_=optuna.pruners.NoSuchPruner",
     "hydra.sweeper.pruner \\(optuna.pruners.NoSuchPruner\\): "),
    ("hydra/sweeper/pruner=none +hydra.sweeper.pruner._target_=optuna.samplers.RandomSampler",
     "optuna.samplers.RandomSampler is not an Optuna pruner"),
    ("hydra/launcher=slurm", "jobs of hydra_plugins.hydra_submitit_launcher.* cannot report"),
    ("hydra/sweeper/pruner=wilcoxon", "WilcoxonPruner compares trials seed by seed: set "
                                      "hydra.sweeper.seeds_per_trial >= 2"),
    ("hydra/sweeper/pruner=wilcoxon hydra.sweeper.seeds_per_trial=3",
     "WilcoxonPruner at p_threshold=0.1 can stop a trial only after 4 of its seeds"),
    ("hydra.sweeper.seeds_per_trial=2", None),
])
def test_a_pruner_that_cannot_work_is_refused_in_one_line_before_any_trial(tmp_path, override,
                                                                          message):
    config = study_config(*override.split(), tmp_path=tmp_path)
    if message is None:  # seed 0 reports its epochs to the median pruner: accepted
        pruning.check(config)
        return
    with pytest.raises(ConfigError, match=message) as refused:
        search_space.preflight(config)
    assert "\n" not in str(refused.value)
    assert not (tmp_path / "optuna.db").exists()


def test_a_pruned_trial_is_known_by_its_run_tag():
    assert pruning.was_pruned({pruning.PRUNED_TAG: "2"}) == 2
    assert pruning.was_pruned({"optuna.trial": "3"}) is None
