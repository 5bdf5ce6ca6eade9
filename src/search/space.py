"""A study's search space, written as Hydra sweep overrides, and its checks before any trial.

The syntax is Hydra's Optuna sweeper's (`hydra.sweeper.params` in conf/hparams_search/, or
the same overrides on the command line, which win):

    optimizer.lr: tag(log, interval(1e-4, 1e-2))   # float, log-uniform
    reg.dropout.dense: interval(0.0, 0.6)           # float, uniform (Hydra: always a float)
    trainer.batch_size: choice(32, 64, 128)         # one of these values
    trainer.epochs: range(2, 6)                     # an int: 2, 3, 4 or 5, as Hydra's range

Any other override is fixed for every trial. `seed` is never searched: it is what repeats a
chosen config over seeds. Parsed without importing Optuna, so the preflight stays light.
"""

import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, Union

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import (
    ChoiceSweep,
    IntervalSweep,
    Override,
    RangeSweep,
    Transformer,
)
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf

from src.config import Checked, Config, ConfigError, to_typed
from src.search import pruning, seeds

TARGET = "hydra_plugins.mnist_lab.optuna_sweeper.OptunaSweeper"
TRIAL_TAG = "optuna.trial"  # on each trial's runs: its number (src.search.seeds: job numbers)
STORAGE, STUDY = "optuna.db", "study"  # in the sweep dir: one study per storage, so one name
NEVER_SEARCHED = ("seed",)


def storage_file(sweep_dir: Path) -> Path:
    """The study's storage in `sweep_dir`; checked here, before Optuna and MLflow load."""
    storage = sweep_dir / STORAGE
    if not storage.is_file():
        raise FileNotFoundError(f"{sweep_dir} holds no study ({STORAGE}): give the sweep dir "
                                "an `-m hparams_search=...` launch printed")
    return storage


@dataclass
class StudySettings(Checked):
    """`hydra.sweeper.*` besides the space and the sampler (conf/hydra/sweeper/optuna.yaml)."""

    group: ClassVar[str] = "hydra.sweeper"
    n_trials: int = 20
    n_jobs: Union[int, str] = "auto"
    seed: int = 0
    max_failure_rate: float = 0.0
    seeds_per_trial: int = 1

    def __post_init__(self) -> None:
        self.check("n_trials", self.n_trials >= 1, ">= 1 (trials in the study, all launches)")
        auto_or_count = self.n_jobs == "auto" or (type(self.n_jobs) is int and self.n_jobs >= 1)
        self.check("n_jobs", auto_or_count, "auto or a number of trials side by side >= 1")
        self.check("seed", 0 <= self.seed < 2**32, "in [0, 2**32)")
        self.check("max_failure_rate", 0.0 <= self.max_failure_rate <= 1.0, "in [0, 1]")
        self.check("seeds_per_trial", self.seeds_per_trial >= 1,
                   ">= 1 (runs a trial trains, at seeds seed, seed+1, ...; its value: their mean)")

    @classmethod
    def of(cls, sweeper: DictConfig) -> "StudySettings":
        return cls(**{f.name: sweeper[f.name] for f in fields(cls) if f.name in sweeper})


@dataclass(frozen=True)
class Param:
    """One searched key: float bounds (`log`), int bounds with a `step` (a range), or a tuple
    of choices."""

    key: str
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    step: Union[int, None] = None
    choices: tuple = ()

    @property
    def is_int(self) -> bool:
        return self.step is not None

    def describe(self) -> str:
        if self.choices:
            return f"choice({', '.join(map(str, self.choices))})"
        spread = f"{'log-' if self.log else ''}{'int' if self.is_int else 'float'}"
        step = f" step {self.step}" if self.step else ""
        return f"{spread} [{self.low}, {self.high}]{step}"

    def extremes(self) -> tuple:
        """The values that, if the config accepts them, make every value in between valid."""
        return self.choices or (self.low, self.high)

    def distribution(self) -> Any:
        from optuna.distributions import (
            CategoricalDistribution,
            FloatDistribution,
            IntDistribution,
        )

        if self.choices:
            return CategoricalDistribution(self.choices)
        if self.is_int:
            return IntDistribution(self.low, self.high, step=self.step)
        return FloatDistribution(self.low, self.high, log=self.log)


@dataclass
class SearchSpace:
    params: dict[str, Param] = field(default_factory=dict)
    fixed: list[str] = field(default_factory=list)  # overrides every trial gets, as typed

    def describe(self) -> dict[str, str]:
        return {key: param.describe() for key, param in sorted(self.params.items())}

    def overrides(self, values: dict[str, Any]) -> list[str]:
        """A trial's overrides: the fixed ones, then the sampled values."""
        return [*self.fixed, *(f"{key}={as_override(value)}" for key, value in values.items())]


def as_override(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def parse(params: Union[DictConfig, dict, None], arguments: list[str]) -> SearchSpace:
    """The space in `hydra.sweeper.params` plus the command line's overrides (later wins)."""
    params = OmegaConf.to_container(params) if isinstance(params, DictConfig) else params or {}
    lines = [f"{key}={value}" for key, value in params.items()] + list(arguments)
    try:
        parsed = OverridesParser.create().parse_overrides(lines)
    except HydraException as exc:
        raise ConfigError(f"search space: {exc}") from exc
    params, fixed = {}, {}  # by key: a later override of a key replaces the earlier one
    for override in parsed:
        key = override.get_key_element()
        params.pop(key, None)
        fixed.pop(key, None)
        if override.is_sweep_override():
            params[key] = _param(key, override)
        else:
            fixed[key] = override.input_line
    return SearchSpace(params, list(fixed.values()))


def _param(key: str, override: Override) -> Param:
    def bad(rule: str) -> ConfigError:
        return ConfigError(f"search space: {override.input_line} is invalid: {rule}")

    if key in NEVER_SEARCHED:
        raise bad(f"{key} is never searched (a study compares configs at one seed; repeat the "
                  "best over seeds afterwards). Fix it for every trial with seed=N")
    value = override.value()
    if isinstance(value, ChoiceSweep):
        choices = tuple(override.sweep_iterator(transformer=Transformer.encode))
        if len(choices) < 2 or any(isinstance(c, (list, dict)) for c in choices):
            raise bad("choice() needs two or more plain values")
        return Param(key, choices=choices)
    if isinstance(value, RangeSweep):
        start, stop, step = value.start, value.stop, value.step
        if not all(isinstance(v, int) for v in (start, stop, step)) or step < 1 or stop <= start:
            raise bad("range() searches ints: range(start, stop[, step]) with start < stop")
        return Param(key, start, start + step * ((stop - start - 1) // step), step=step)
    if isinstance(value, IntervalSweep):
        log = "log" in value.tags
        low, high = value.start, value.end
        if not low < high:
            raise bad("interval(low, high) needs low < high")
        if log and low <= 0:
            raise bad("a log interval needs low > 0")
        if not all(map(math.isfinite, (low, high))):
            raise bad("interval bounds must be finite")
        return Param(key, low, high, log=log)
    raise bad("searched values are choice(...), range(...) or interval(...)")


def extreme_configs(config: DictConfig, space: SearchSpace) -> list[Config]:
    """Compose a trial at the first extreme of every searched key, then at each other extreme
    of each key (the rest at their first), and range-check each as every run is: a bound no
    config accepts fails here, and the preflight builds these trials' models."""
    from hydra.core.global_hydra import GlobalHydra

    loader = GlobalHydra.instance().config_loader()
    base = {key: param.extremes()[0] for key, param in space.params.items()}
    trials = [({}, "its first values (" + " ".join(
        f"{key}={as_override(value)}" for key, value in base.items()) + ")")]
    for key, param in space.params.items():
        for extreme in param.extremes()[1:]:
            trials.append(({key: extreme}, f"{key}={as_override(extreme)} (an extreme of "
                                           f"{param.describe()})"))
    composed = []
    for changed, what in trials:
        try:
            composed.append(to_typed(loader.load_sweep_config(
                config, space.overrides({**base, **changed}))))
        except (HydraException, ConfigError) as exc:
            ours = isinstance(exc, ConfigError)
            cause = f"\n{exc.__cause__}" if exc.__cause__ and not ours else ""
            raise ConfigError(f"search space: {what}: {exc}{cause}") from exc
    return composed


def check_same_space(sweep_dir: Path, recorded: Union[dict, None], space: SearchSpace) -> None:
    """A relaunch continues the study in its sweep dir only if it searches the same space."""
    if recorded is not None and recorded != space.describe():
        raise ConfigError(f"the study in {sweep_dir} searches {recorded}, this command "
                          f"{space.describe()}: launch it with another hydra.sweep.dir, or "
                          f"delete {sweep_dir / STORAGE} to start over")


def preflight(config: DictConfig) -> list[Config]:
    """Everything about a study's config that can be wrong before its first trial (or, on a
    relaunch, before its parent run is set RUNNING again); returns the extreme trials, whose
    models src.preflight then builds."""
    StudySettings.of(config.hydra.sweeper)
    pruning.check(config)  # the pruner, and jobs that can report to it
    task = OmegaConf.to_container(config.hydra.overrides.task, resolve=False)
    space = parse(config.hydra.sweeper.get("params"), task)
    if not space.params:
        raise ConfigError("the Optuna sweeper has nothing to search: set hydra.sweeper.params "
                          "(conf/hparams_search/) or sweep a key on the command line")
    if config.dataset.get("final_fit") or "dataset.final_fit" in space.params:
        raise ConfigError("dataset.final_fit=true trains on the validation images, which score a "
                          "study's trials: search without it, then train the best config once "
                          "more with dataset.final_fit=true")
    trials = extreme_configs(config, space)
    sweep_dir = Path(config.hydra.sweep.dir)
    if (sweep_dir / STORAGE).exists():
        import optuna

        study = optuna.load_study(study_name=STUDY, storage=f"sqlite:///{sweep_dir / STORAGE}")
        check_same_space(sweep_dir, study.user_attrs.get("search_space"), space)
        seeds.check_same(sweep_dir, seeds.recorded(study),
                         StudySettings.of(config.hydra.sweeper).seeds_per_trial)
    return trials
