"""The jobs of a multirun, listed and composed as Hydra's basic sweeper will launch them."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Optional

from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf

from src.config import Config, to_typed
from src.errors import BadInput, ConfigError

BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"
UNTIL_DECIDED = "hydra_plugins.mnist_lab.until_decided.UntilDecidedSweeper"  # src.sweeps.rounds


def expands_up_front(config: DictConfig) -> bool:
    """Whether the sweeper launches a fixed product of values (Hydra's basic sweeper; seeds
    until decided, which runs as much of that product as it needs), rather than choosing jobs
    as it goes (Optuna and the like)."""
    return config.hydra.sweeper._target_ in (BASIC_SWEEPER, UNTIL_DECIDED)


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
    return len(job_overrides(config)) if expands_up_front(config) else None


@contextmanager
def labelled(job: int, overrides: Optional[Sequence[str]]) -> Iterator[None]:
    """Bad input found in a job's config, reported with the job's number and overrides (None:
    the base config of a sweeper that chooses its jobs as it goes, reported as it is)."""
    try:
        yield
    except HydraException as exc:
        if overrides is None:
            raise
        where = f"sweep job #{job} ({' '.join(overrides)})"
        if isinstance(exc, BadInput):  # ours: one line, kept as it is
            raise type(exc)(f"{where}: {exc}") from exc
        cause = f"\n{exc.__cause__}" if exc.__cause__ else ""  # Hydra's: an unknown choice,
        raise ConfigError(f"{where}: {exc}{cause}") from exc  # a wrong type in a sweep value


def compose(config: DictConfig, overrides: list[str], job: int) -> Config:
    """One job's checked config; a bad value is reported with the job's number and overrides."""
    with labelled(job, overrides):
        loader = GlobalHydra.instance().config_loader()
        return to_typed(loader.load_sweep_config(config, overrides))


def job_configs(config: DictConfig) -> Iterator[tuple[Optional[list[str]], Config]]:
    """Each job's overrides and checked config. Sweepers that choose jobs as they go have only
    their base config to check up front (its overrides: None)."""
    if not expands_up_front(config):
        yield None, to_typed(config)
        return
    for job, overrides in enumerate(job_overrides(config)):
        yield overrides, compose(config, overrides, job)
