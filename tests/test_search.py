"""The search space of an Optuna study: Hydra's sweep syntax, read and checked before trials."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.samplers import RandomSampler

from src.config import CONF_DIR, ConfigError, register
from src.search import space as search_space
from src.search import study as studies

PRESETS = sorted(path.stem for path in (Path(CONF_DIR) / "hparams_search").glob("*.yaml"))


def parsed(*overrides: str, params: dict | None = None) -> search_space.SearchSpace:
    return search_space.parse(params or {}, list(overrides))


def test_each_sweep_syntax_becomes_its_optuna_distribution():
    space = parsed("optimizer.lr=tag(log, interval(1e-4, 1e-2))",
                   "reg.dense_dropout=interval(0, 1)", "trainer.batch_size=choice(32,64)",
                   "trainer.steps_per_execution=range(1, 10, 4)")
    distributions = {key: param.distribution() for key, param in space.params.items()}
    assert distributions == {
        "optimizer.lr": FloatDistribution(1e-4, 1e-2, log=True),
        "reg.dense_dropout": FloatDistribution(0.0, 1.0),  # Hydra's interval: floats, always
        "trainer.batch_size": CategoricalDistribution((32, 64)),
        "trainer.steps_per_execution": IntDistribution(1, 9, step=4),  # Hydra's range: 1, 5, 9
    }


def test_plain_overrides_are_fixed_for_every_trial_and_the_command_line_wins():
    space = parsed("trainer.epochs=1", "optimizer.lr=interval(0.1, 0.2)", "reg=dropout",
                   params={"optimizer.lr": "tag(log, interval(1e-4, 1e-2))",
                           "trainer.epochs": "choice(3, 5)"})
    assert space.fixed == ["trainer.epochs=1", "reg=dropout"]
    assert list(space.params) == ["optimizer.lr"]
    assert space.params["optimizer.lr"].describe() == "float [0.1, 0.2]"
    assert space.overrides({"optimizer.lr": 0.125}) == [
        "trainer.epochs=1", "reg=dropout", "optimizer.lr=0.125"]


@pytest.mark.parametrize(("override", "message"), [
    ("seed=choice(0, 1)", "seed is never searched"),
    ("optimizer.lr=interval(0.1, 0.1)", "needs low < high"),
    ("optimizer.lr=tag(log, interval(0, 0.1))", "a log interval needs low > 0"),
    ("trainer.epochs=range(5, 2)", "range() searches ints"),
    ("trainer.epochs=choice(3)", "choice() needs two or more plain values"),
    ("trainer.epochs=glob(*)", "searched values are choice(...), range(...) or interval(...)"),
])
def test_a_space_no_sampler_could_use_is_refused_with_its_rule(override, message):
    with pytest.raises(ConfigError, match="search space: ") as raised:
        parsed(override)
    assert message in str(raised.value)


@pytest.mark.parametrize("preset", PRESETS)
def test_the_extremes_of_every_searched_key_are_composed_and_range_checked(preset):
    register()
    with initialize_config_dir(CONF_DIR, version_base="1.3"):  # composed as Hydra does
        config = compose("config", [f"hparams_search={preset}"], return_hydra_config=True)
        space = search_space.parse(config.hydra.sweeper.params, [])
        trials = search_space.extreme_configs(config, space)
        assert len(trials) == 1 + sum(len(p.extremes()) - 1 for p in space.params.values())
        with pytest.raises(ConfigError, match=r"batch_size=0 \(an extreme of choice\(64, 128, 0"):
            search_space.extreme_configs(config, parsed("trainer.batch_size=choice(64, 128, 0)"))
        with pytest.raises(ConfigError, match=r"^search space: its first values \(.*"
                                              r"trainer\.batch_size=0\): trainer\.batch_size=0 "):
            search_space.extreme_configs(config, parsed("trainer.batch_size=choice(0, 64)"))
        with pytest.raises(ConfigError, match="optimizer=rmsprop .*Could not find 'optimizer/"):
            search_space.extreme_configs(config, parsed("optimizer=choice(adam, rmsprop)"))


@pytest.mark.parametrize(("settings", "key"), [
    ({"n_trials": 0}, "n_trials"), ({"n_jobs": "many"}, "n_jobs"), ({"n_jobs": 0}, "n_jobs"),
    ({"max_failure_rate": 1.5}, "max_failure_rate"), ({"seed": -1}, "seed"),
    ({"seeds_per_trial": 0}, "seeds_per_trial"),
])
def test_study_settings_are_range_checked(settings, key):
    with pytest.raises(ConfigError, match=f"hydra.sweeper.{key}=.* is invalid"):
        search_space.StudySettings(**settings)


def test_a_study_refuses_to_continue_with_another_search_space(tmp_path):
    seeds = []

    def sampler(seed):
        import optuna

        seeds.append(seed)
        return optuna.samplers.RandomSampler(seed=seed)

    first = parsed("optimizer.lr=interval(0.1, 0.2)")
    study = studies.open_study(tmp_path, first, sampler, seed=10)
    study.tell(study.ask({"optimizer.lr": first.params["optimizer.lr"].distribution()}), 0.5)
    studies.open_study(tmp_path, first, sampler, seed=10)
    assert seeds == [10, 11], "a relaunch's sampler must not replay the first random trials"
    with pytest.raises(ConfigError, match="searches .* this command"):
        studies.open_study(tmp_path, parsed("optimizer.lr=interval(0.1, 0.3)"), sampler, 10)


def test_a_relaunch_with_another_space_is_refused_before_its_parent_run_reopens(tmp_path):
    register()
    with initialize_config_dir(CONF_DIR, version_base="1.3"):
        config = compose("config", ["hparams_search=mnist_cnn", f"hydra.sweep.dir={tmp_path}"],
                         return_hydra_config=True)
        search_space.preflight(config)  # no study there yet
        studies.open_study(tmp_path, parsed("optimizer.lr=interval(0.1, 0.2)"),
                           RandomSampler, seed=0)
        with pytest.raises(ConfigError, match=f"the study in {tmp_path} searches"):
            search_space.preflight(config)
