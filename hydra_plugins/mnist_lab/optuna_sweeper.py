"""Optuna search as a Hydra sweeper, resumable: `python -m src.train -m hparams_search=mnist_cnn`.

Written here rather than installed: Hydra's own Optuna sweeper (1.2 and 1.3) requires
optuna<3, whose SQL storage does not run on SQLAlchemy 2 (which MLflow 3 needs), and it cannot
resume a study: it asks `n_trials` more on every launch and leaves an interrupted trial
RUNNING forever. This one keeps its search-space syntax and sampler config, and:

- stores the study in the sweep dir (src.search.study): the same command continues it;
- runs trial N as Hydra job N (its seed j as job N*k+j with `seeds_per_trial: k`,
  src.search.seeds), so an interrupted trial's job dir (Keras backup, MLflow run) is found by
  the relaunch, which resumes it into the same run;
- asks trials in batches the launcher runs side by side (`n_jobs: auto`: as many as it plans);
- records the study on the sweep's parent MLflow run (src.tracking.sweep): space, best value,
  best params, best trial's run id; and what mattered (src.search.insight), on every launch.
"""

import logging
import warnings
from collections.abc import Sequence
from itertools import groupby
from pathlib import Path
from typing import Any, Optional

from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

from src.search.space import StudySettings, parse

log = logging.getLogger(__name__)
# Optuna calls WilcoxonPruner's API experimental, which Hydra would print as it makes the pruner.
warnings.filterwarnings("ignore", message="WilcoxonPruner is experimental")
# Every trial trains: a FINISHED run of the same config elsewhere is not a trial of this study.
TRIAL_OVERRIDES = ("tracking.skip_finished=false",)


class OptunaSweeper(Sweeper):
    def __init__(self, sampler: Any, params: Optional[DictConfig] = None,
                 pruner: Any = None, **settings: Any) -> None:
        self.sampler = sampler  # a partial (`_partial_: true`): seeded per launch
        self.params, self.pruner = params, pruner  # epochs prune in the trials' processes
        self.settings = StudySettings(**settings)

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction,
              config: DictConfig) -> None:
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            config=config, hydra_context=hydra_context, task_function=task_function)

    def sweep(self, arguments: list[str]) -> None:
        from mlflow import MlflowClient
        from optuna.pruners import BasePruner

        from src.search import insight, trials
        from src.search import study as studies
        from src.tracking import resume, store

        self.space = parse(self.params, arguments)  # checked by src.preflight already
        k = self.settings.seeds_per_trial
        sweep_dir = Path(self.config.hydra.sweep.dir)
        study = studies.open_study(sweep_dir, self.space, self.sampler, self.settings.seed, k)
        # Hydra made the pruner (None: `none`); it decides here only between seeds (wilcoxon).
        study.pruner = self.pruner if isinstance(self.pruner, BasePruner) else None
        self.client = MlflowClient(store.tracking_uri(self.config.tracking.uri))
        self.parent = parent = resume.parent_run_id(sweep_dir)  # None without tracking
        if parent:
            studies.record_start(self.client, parent, self.space, self.settings.n_trials,
                                 study.sampler, k)
        log.info(f"Study {sweep_dir / studies.STORAGE}: {len(study.trials)} of "
                 f"{self.settings.n_trials} trials already asked; searching "
                 f"{self.space.describe()}" + (f", {k} seeds a trial" if k > 1 else ""))
        self.jobs = trials.TrialJobs(study, k, self._overrides, self._launch)
        if interrupted := trials.running(study):  # a killed launch's: finished, resumed
            log.info(f"Resuming interrupted trial(s) {[trial.number for trial in interrupted]}")
            self._run(interrupted, studies.seed_runs(self.client, parent) if parent else {})
        while (left := self.settings.n_trials - len(study.trials)) > 0:
            distributions = {key: p.distribution() for key, p in self.space.params.items()}
            self._run([study.ask(distributions) for _ in range(min(left, self._batch(left)))])
            if parent:
                studies.record_best(self.client, parent, study, sweep_dir)
        if parent:  # when this launch only finished interrupted trials, or had nothing to do
            studies.record_best(self.client, parent, study, sweep_dir)
            insight.record(self.client, parent, study)
        if best := studies.best_trial(study):
            log.info(f"Best trial #{best.number}: {studies.OBJECTIVE} {best.value:.4f} "
                     f"with {best.params}")

    def _run(self, batch: list, left_by_a_kill: Optional[dict] = None) -> None:
        """Train a batch of trials; stop the study when more fail than `max_failure_rate`
        allows."""
        from src.search import study as studies

        outcome = self.jobs.run(batch, left_by_a_kill)
        if outcome.pruned_between_seeds and self.parent:
            studies.tag_pruned_between_seeds(self.client, self.parent,
                                             outcome.pruned_between_seeds)
        failed = outcome.failed
        if failed and len(failed) / len(batch) > self.settings.max_failure_rate:
            log.error(f"{len(failed)} of {len(batch)} trials failed (hydra.sweeper."
                      f"max_failure_rate={self.settings.max_failure_rate}): stopping the study")
            failed[0].return_value  # noqa: B018 - JobReturn raises the job's own exception

    def _overrides(self, params: dict[str, Any], seed_index: int) -> list[str]:
        from src.search.seeds import seed_overrides

        return seed_overrides([*self.space.overrides(params), *TRIAL_OVERRIDES],
                              self.config.seed, seed_index, self.settings.seeds_per_trial)

    def _launch(self, overrides: list[list[str]], numbers: list[int]) -> Sequence[JobReturn]:
        """The jobs with their own numbers: in one launch where the launcher takes numbers,
        else one launch per run of consecutive numbers (Hydra numbers a launch's jobs so)."""
        if hasattr(self.launcher, "launch_numbered"):
            return self.launcher.launch_numbered(overrides, numbers)
        returns: list[JobReturn] = []
        for _, run in groupby(enumerate(zip(numbers, overrides, strict=True)),
                              key=lambda item: item[1][0] - item[0]):
            run = [job for _, job in run]
            returns += self.launcher.launch([o for _, o in run], initial_job_idx=run[0][0])
        return returns

    def _batch(self, left: int) -> int:
        """Trials asked at once: `n_jobs`, or with `auto` as many as the local launcher would
        run side by side (other launchers: one at a time unless `n_jobs` says otherwise)."""
        if self.settings.n_jobs != "auto":
            return int(self.settings.n_jobs)
        from src.sweeps.plan import LOCAL_LAUNCHER, sweep_plan

        launcher = self.config.hydra.launcher
        if launcher._target_ != LOCAL_LAUNCHER:
            return 1
        # Trials differ little in cost; for equal jobs the plan does not depend on their size.
        return sweep_plan(launcher.workers, [1.0] * left).workers

