"""Check a command's every job before Hydra creates a directory or MLflow a run.

`Preflight` is a Hydra callback, first in `hydra.callbacks` (conf/config.yaml). For a single
run it checks the config (the run itself checks its data and server before it creates
anything, src.train). For a multirun it composes every job the
sweep will launch, as the launcher will (`load_sweep_config`), checks each config, then locates
and verifies each dataset the jobs read and reaches each tracking server: one bad value in one
job of a sweep launches none, and leaves nothing in the tracking store.

Imports nothing heavy: a rejected config is answered without loading TensorFlow or MLflow.
"""

from collections.abc import Iterator
from typing import Any

from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from src import errors
from src.config import Config, ConfigError, to_typed
from src.search import space as search_space
from src.tracking import store

BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"


class Preflight(Callback):
    """The checks above, in the launching process; exits with one line on bad input."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        with errors.reported():
            to_typed(config)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        with errors.reported():
            from hydra_plugins.mnist_lab.launcher import TARGET, remember_costs, sweep_plan

            if config.hydra.launcher._target_ == TARGET:
                sweep_plan(config.hydra.launcher.workers, [1.0])  # auto, or a count >= 1
            if config.hydra.sweeper._target_ == search_space.TARGET:
                search_space.preflight(config)  # the study's settings and space
            jobs = list(job_configs(config))
            if config.hydra.sweeper._target_ == BASIC_SWEEPER:
                remember_costs(job_overrides(config), jobs)  # the launcher composes none again
            check_data(jobs)
            for uri in sorted({store.tracking_uri(job.tracking.uri) for job in jobs}):
                store.check_reachable(uri)


def job_configs(config: DictConfig) -> Iterator[Config]:
    """Each job's checked config. Hydra's basic sweeper launches the cartesian product of the
    sweep's values; other sweepers (Optuna and the like) choose jobs as they go, so only their
    base config can be checked up front."""
    if config.hydra.sweeper._target_ != BASIC_SWEEPER:
        yield to_typed(config)
        return
    loader = GlobalHydra.instance().config_loader()
    for job, overrides in enumerate(job_overrides(config)):
        try:
            composed = loader.load_sweep_config(config, overrides)
        except HydraException as exc:  # an unknown choice or a wrong type in a sweep value
            cause = f"\n{exc.__cause__}" if exc.__cause__ else ""
            raise ConfigError(f"sweep job #{job} ({' '.join(overrides)}): {exc}{cause}") from exc
        try:
            yield to_typed(composed)
        except ConfigError as exc:
            raise ConfigError(f"sweep job #{job} ({' '.join(overrides)}): {exc}") from exc


def job_overrides(config: DictConfig) -> list[list[str]]:
    """The override list of every job, expanded as BasicSweeper.sweep expands them."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    params = config.hydra.sweeper.get("params")  # sweep values set in a config file
    params = OmegaConf.to_container(params, resolve=False) if params else {}
    arguments = [f"{key}={value}" for key, value in params.items()]
    arguments += OmegaConf.to_container(config.hydra.overrides.task, resolve=False)
    hydra = GlobalHydra.instance()  # its config loader expands glob() over a group's options
    loader = hydra.config_loader() if hydra.is_initialized() else None
    parser = OverridesParser.create(config_loader=loader)
    batches = BasicSweeper.split_arguments(parser.parse_overrides(arguments), None)
    return [list(job) for batch in batches for job in batch]


def job_count(config: DictConfig) -> int | None:
    """How many jobs the sweep launches; None for sweepers that choose jobs as they go."""
    if config.hydra.sweeper._target_ != BASIC_SWEEPER:
        return None
    return len(job_overrides(config))


def check_data(jobs: list[Config]) -> None:
    """Locate and checksum every dataset the jobs read (src.data raises DataError)."""
    from src import data

    for name, data_dir in sorted({(j.dataset.name, j.dataset.data_dir or "") for j in jobs}):
        data.load_arrays(name, data_dir or None)
