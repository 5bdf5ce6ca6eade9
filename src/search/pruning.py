"""Pruning across processes: a trial reports its validation accuracy to the study at the end
of every epoch, from the process that trains it, through the study's storage in the sweep dir;
the study's pruner (`hydra/sweeper/pruner=median|hyperband`) stops a hopeless trial there.

Hydra's own Optuna sweeper cannot prune (facebookresearch/hydra#1954): its jobs never see the
study. Here the storage is a file beside the jobs' dirs, which every job of the local or
basic launcher reaches. A pruned trial's run keeps its epochs and ends KILLED, tagged with the
epoch (`PRUNED_TAG`); its job returns `Pruned`, and the sweeper tells Optuna PRUNED. With
several seeds a trial, seed 0 reports its epochs, or, with `hydra/sweeper/pruner=wilcoxon`, the
sweeper reports each seed's value between them (src.search.seeds). Only Optuna is imported
here, and only when a pruner is asked for.
"""

import warnings
from dataclasses import dataclass
from typing import Any, Optional

from hydra.utils import instantiate
from omegaconf import DictConfig

from src.errors import ConfigError
from src.search import seeds
from src.sweeps.plan import LOCAL_LAUNCHER

PRUNED_TAG = "optuna.pruned_at_epoch"  # on a pruned trial's run: the last epoch it trained
# Launchers whose jobs run on this machine and reach the sweep dir's SQLite storage.
REPORTING_LAUNCHERS = (LOCAL_LAUNCHER, "hydra._internal.core_plugins.basic_launcher.BasicLauncher")
OBJECTIVE = "val_accuracy"  # what each epoch reports; src.search.study maximizes the last one


@dataclass
class Pruned:
    """What a pruned trial's job returns to the sweeper, instead of its objective."""

    epoch: int  # the last epoch it trained
    value: float  # its objective then


def make(node: Optional[DictConfig]) -> Any:
    """The pruner `hydra.sweeper.pruner` describes, or None for none; a pruner Optuna cannot
    make (an unknown class, a setting out of range) is refused in one line."""
    if not node or node.get("_target_") is None:
        return None
    try:
        import optuna

        with warnings.catch_warnings():  # WilcoxonPruner's API is "experimental", not its test
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            made = instantiate(node)
    except Exception as err:  # noqa: BLE001 - Hydra wraps the class's own error: show its cause
        cause = err.__cause__ or err
        raise ConfigError(f"hydra.sweeper.pruner ({node._target_}): {cause}".splitlines()[0]
                          ) from None
    if not isinstance(made, optuna.pruners.BasePruner):
        raise ConfigError(f"hydra.sweeper.pruner: {node._target_} is not an Optuna pruner "
                          "(optuna.pruners.*); use hydra/sweeper/pruner=none|median|hyperband")
    return made


def check(config: DictConfig) -> None:
    """The pruner, its fit with the seeds a trial, and a launcher whose jobs can report to the
    study, before any trial."""
    if (pruner := make(config.hydra.sweeper.get("pruner"))) is None:
        return
    seeds.check(pruner, seeds.seeds_per_trial(config.hydra.sweeper))
    if seeds.per_seed(pruner):  # the sweeper reports each seed's value itself
        return
    launcher = config.hydra.launcher._target_
    if launcher not in REPORTING_LAUNCHERS:
        raise ConfigError(f"hydra.sweeper.pruner: jobs of {launcher} cannot report their epochs "
                          "to the study in the sweep dir (SQLite, this machine); prune with the "
                          "local launcher, or set hydra/sweeper/pruner=none")


def was_pruned(tags: dict[str, str]) -> Optional[int]:
    """The epoch a trial's run was pruned at, from its tags; None if it was not."""
    return int(tags[PRUNED_TAG]) if PRUNED_TAG in tags else None
