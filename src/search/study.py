"""A study's Optuna storage in its sweep dir, and what it records on its parent MLflow run.

The storage (`optuna.db`, SQLite) lives beside the jobs' dirs, so launching the same command
again (same overrides, same sweep dir) loads the study instead of starting one: trials that
completed stay, the total stays `n_trials`. Trial N runs as Hydra job N, in job dir N and as
the child run tagged `optuna.trial=N`, which is how an interrupted trial finds what it left.
"""

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import optuna
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, Run, RunTag
from omegaconf import OmegaConf

from src.search import seeds
from src.search.space import STORAGE, STUDY, TRIAL_TAG, SearchSpace, check_same_space

OBJECTIVE = "val_accuracy"  # what src.train returns: the last epoch's; never the test set
RESULTS = "optimization_results.yaml"


def storage(sweep_dir: Path) -> optuna.storages.RDBStorage:
    """The study's SQLite file, written by the sweeper and by its trials' processes (each
    epoch's report, src.search.pruning): a writer waits for another's lock, up to a minute."""
    return optuna.storages.RDBStorage(f"sqlite:///{sweep_dir / STORAGE}",
                                      engine_kwargs={"connect_args": {"timeout": 60}})


def open_study(sweep_dir: Path, space: SearchSpace, sampler: Callable[..., Any],
               seed: int, seeds_per_trial: int = 1) -> optuna.Study:
    """The sweep dir's study, created on first launch. `sampler(seed=...)` is seeded with
    `seed` plus the trials already run: a relaunch must not replay the first random trials."""
    sweep_dir.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the sweeper logs each trial itself
    study = optuna.create_study(storage=storage(sweep_dir), study_name=STUDY,
                                direction="maximize", load_if_exists=True)
    check_same_space(sweep_dir, study.user_attrs.get("search_space"), space)
    seeds.check_same(sweep_dir, seeds.recorded(study), seeds_per_trial)
    study.set_user_attr("search_space", space.describe())
    study.set_user_attr("seeds_per_trial", seeds_per_trial)
    study.sampler = sampler(seed=seed + len(study.trials))
    return study


def seed_runs(client: MlflowClient, parent_run_id: str) -> dict[tuple[int, int], Run]:
    """The study's child runs by (trial number, seed index), the newest if one has two; a
    run without a seed tag is its trial's only seed, 0."""
    experiment = client.get_run(parent_run_id).info.experiment_id
    runs = client.search_runs([experiment], f"tags.`mlflow.parentRunId` = '{parent_run_id}'",
                              order_by=["attributes.start_time ASC"])
    return {(int(run.data.tags[TRIAL_TAG]), int(run.data.tags.get(seeds.SEED_TAG, 0))): run
            for run in runs if TRIAL_TAG in run.data.tags}


def tag_pruned_between_seeds(client: MlflowClient, parent_run_id: str,
                             pruned: dict[int, int]) -> None:
    """The runs of each trial pruned between its seeds: after how many of them."""
    for (number, _), run in seed_runs(client, parent_run_id).items():
        if number in pruned:
            client.set_tag(run.info.run_id, seeds.PRUNED_AFTER_TAG, str(pruned[number]))


def finished_value(run: Optional[Run]) -> Optional[float]:
    """The objective of a trial whose run FINISHED (before the study heard back from it)."""
    if run is None or run.info.status != "FINISHED" or OBJECTIVE not in run.data.metrics:
        return None
    return run.data.metrics[OBJECTIVE]


def record_start(client: MlflowClient, parent_run_id: str, space: SearchSpace,
                 n_trials: int, sampler: Any, seeds_per_trial: int = 1) -> None:
    """The space as the parent's params (fixed for the study's life), the rest as tags."""
    logged = client.get_run(parent_run_id).data.params
    params = [Param(f"search.{key}", value) for key, value in space.describe().items()
              if f"search.{key}" not in logged]
    tags = [RunTag("optuna.n_trials", str(n_trials)),
            RunTag("optuna.sampler", type(sampler).__name__),
            RunTag("optuna.seeds_per_trial", str(seeds_per_trial)),
            RunTag("optuna.objective", f"maximize {OBJECTIVE}")]
    client.log_batch(parent_run_id, params=params, tags=tags)


def best_trial(study: optuna.Study) -> Optional[optuna.trial.FrozenTrial]:
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    return study.best_trial if complete else None


def record_best(client: MlflowClient, parent_run_id: str, study: optuna.Study,
                sweep_dir: Path) -> None:
    """The best trial so far on the parent: `best_val_accuracy` (its step: trials complete),
    its number, run id and params as tags, and the results file as an artifact. Once per
    count of complete trials: a relaunch with nothing new adds no point to the chart. The
    count of pruned trials (tag `optuna.trials_pruned`) on every call. With several seeds a
    trial: every seed's run id and the seeds' standard deviation too."""
    pruned = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.PRUNED,))
    client.set_tag(parent_run_id, "optuna.trials_pruned", str(len(pruned)))
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    history = client.get_metric_history(parent_run_id, f"best_{OBJECTIVE}")
    if not complete or any(point.step == len(complete) for point in history):
        return
    best = study.best_trial
    runs = sorted((j, run.info.run_id) for (number, j), run in
                  seed_runs(client, parent_run_id).items() if number == best.number)
    run_id = runs[0][1] if runs else ""
    spread = {key: best.user_attrs[key] for key in ("val_accuracy_std", "val_accuracy_per_seed")
              if key in best.user_attrs}  # a trial of several seeds
    tags = {"best.trial": str(best.number), "best.run_id": run_id,
            **{f"best.{key}": str(value) for key, value in best.params.items()}}
    if spread:
        tags |= {"best.run_ids": ",".join(run for _, run in runs),
                 f"best.{OBJECTIVE}_std": str(spread["val_accuracy_std"])}
    metric = Metric(f"best_{OBJECTIVE}", best.value, int(time.time() * 1000), len(complete))
    client.log_batch(parent_run_id, metrics=[metric],
                     tags=[RunTag(key, value) for key, value in tags.items()])
    results = {"best_value": best.value, "best_trial": best.number, "best_run_id": run_id,
               "best_params": best.params, **{f"best_{key}": v for key, v in spread.items()},
               "trials_complete": len(complete), "trials_pruned": len(pruned)}
    OmegaConf.save(OmegaConf.create(results), sweep_dir / RESULTS)
    client.log_artifact(parent_run_id, str(sweep_dir / RESULTS))

