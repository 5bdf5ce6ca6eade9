"""Several seeds per trial (`hydra.sweeper.seeds_per_trial=k`): a trial's value is the mean of
k runs at seeds `seed`, `seed`+1, ..., and its spread is recorded, as keras-tuner's
`executions_per_trial` (optuna/optuna#433 asks Optuna for it).

Seed j of trial N runs as Hydra job N*k+j, so its job dir (its Keras backup and MLflow run,
what a relaunch resumes) depends only on the two numbers; k=1 is the plain study, trial N as
job N. The seeds run in rounds, so that a pruner can stop a trial before all its seeds train:

- no pruner: one round of all k seeds;
- a pruner of learning curves (median, hyperband): seed 0's epochs, compared with the other
  trials' seed 0 as a plain study's are, then seeds 1..k-1 of the trials it kept;
- a pruner of per-instance evidence (Optuna's WilcoxonPruner): one seed a round, each reported
  as its own step, paired with the best trial's run at the same seed.
"""

import math
import statistics
from typing import Any, Optional

from omegaconf import DictConfig

from src.errors import ConfigError

SEED_TAG = "optuna.trial_seed"  # on a trial's run when k > 1: which of its seeds (0..k-1)
PRUNED_AFTER_TAG = "optuna.pruned_after_seeds"  # on the runs of a trial pruned between seeds


def seeds_per_trial(sweeper: DictConfig) -> int:
    return int(sweeper.get("seeds_per_trial", 1))


def job_number(trial: int, seed_index: int, k: int) -> int:
    return trial * k + seed_index


def per_seed(pruner: Any) -> bool:
    """Whether the pruner judges per-instance evidence (steps are seeds), not learning curves."""
    from optuna.pruners import WilcoxonPruner

    return isinstance(pruner, WilcoxonPruner)


def rounds(k: int, pruner: Any) -> list[list[int]]:
    """The seed indices each round trains, for every trial still in the study."""
    if pruner is None:
        return [list(range(k))]
    if per_seed(pruner):
        return [[j] for j in range(k)]
    return [[0], list(range(1, k))] if k > 1 else [[0]]


def check(pruner: Any, k: int) -> None:
    """A pruner that cannot work with k seeds a trial is refused in one line."""
    if pruner is None or not per_seed(pruner):
        return
    name = type(pruner).__name__
    if k == 1:
        raise ConfigError(f"hydra.sweeper.pruner: {name} compares trials seed by seed: set "
                          "hydra.sweeper.seeds_per_trial >= 2, or prune learning curves with "
                          "hydra/sweeper/pruner=median|hyperband")
    # With n seeds all below the best trial's, the one-sided signed-rank p is 2**-n, its least;
    # Optuna keeps the settings only as these attributes.
    threshold, startup = pruner._p_threshold, pruner._n_startup_steps
    needed = max(math.floor(math.log2(1 / threshold)) + 1, startup, 2)
    if k <= needed:
        raise ConfigError(f"hydra.sweeper.pruner: {name} at p_threshold={threshold} can stop a "
                          f"trial only after {needed} of its seeds (p >= 2**-n over n seeds; "
                          f"n_startup_steps={startup}), "
                          f"so seeds_per_trial={k} leaves it nothing to save: use "
                          f"seeds_per_trial >= {needed + 1} or a larger p_threshold")


def check_same(sweep_dir: Any, recorded: Optional[int], k: int) -> None:
    """A relaunch continues a study only with its seeds a trial, which number its jobs."""
    if recorded is not None and recorded != k:
        raise ConfigError(f"the study in {sweep_dir} trains {recorded} seed(s) a trial and "
                          f"numbers its jobs by it; this command asks {k}: relaunch it with "
                          f"hydra.sweeper.seeds_per_trial={recorded}, or use another "
                          "hydra.sweep.dir")


def recorded(study: Any) -> Optional[int]:
    """The seeds a trial of `study` trains, as its first launch recorded (1 before this was)."""
    return study.user_attrs.get("seeds_per_trial", 1 if study.trials else None)


def seed_overrides(overrides: list[str], base_seed: int, seed_index: int, k: int) -> list[str]:
    """A trial's overrides for one of its seeds: `seed` replaced by base_seed + seed_index."""
    if k == 1:
        return overrides
    kept = [line for line in overrides if line.split("=", 1)[0].lstrip("+~") != "seed"]
    return [*kept, f"seed={base_seed + seed_index}"]


def spread(values: list[float]) -> dict[str, Any]:
    """What a trial records of its seeds beside its value (their mean): each value and the
    sample standard deviation (None for one seed)."""
    std: Optional[float] = statistics.stdev(values) if len(values) > 1 else None
    return {"val_accuracy_per_seed": values, "val_accuracy_std": std}
