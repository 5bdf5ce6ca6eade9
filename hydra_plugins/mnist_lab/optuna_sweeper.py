"""Optuna search as a Hydra sweeper, resumable: `python -m src.train -m hparams_search=mnist_cnn`.

Written here rather than installed: Hydra's own Optuna sweeper (1.2 and 1.3) requires
optuna<3, whose SQL storage does not run on SQLAlchemy 2 (which MLflow 3 needs), and it cannot
resume a study: it asks `n_trials` more on every launch and leaves an interrupted trial
RUNNING forever. This one keeps its search-space syntax and sampler config, and:

- stores the study in the sweep dir (src.search.study): the same command continues it;
- runs trial N as Hydra job N, so an interrupted trial's job dir (Keras backup, MLflow run)
  is found by the relaunch, which resumes it into the same run;
- asks trials in batches the launcher runs side by side (`n_jobs: auto`: as many as it plans);
- records the study on the sweep's parent MLflow run (src.tracking.sweep): space, best value,
  best params, best trial's run id; and what mattered (src.search.insight), on every launch.
"""

import logging
from collections.abc import Sequence
from itertools import groupby
from pathlib import Path
from typing import Any, Optional

from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

from src.search.space import StudySettings, parse

log = logging.getLogger(__name__)
# Every trial trains: a FINISHED run of the same config elsewhere is not a trial of this study.
TRIAL_OVERRIDES = ("tracking.skip_finished=false",)


class OptunaSweeper(Sweeper):
    def __init__(self, sampler: Any, params: Optional[DictConfig] = None,
                 pruner: Optional[DictConfig] = None, **settings: Any) -> None:
        self.sampler = sampler  # a partial (`_partial_: true`): seeded per launch
        self.params = params  # the pruner runs in the trials' processes (src.search.pruning)
        self.settings = StudySettings(**settings)

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction,
              config: DictConfig) -> None:
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            config=config, hydra_context=hydra_context, task_function=task_function)

    def sweep(self, arguments: list[str]) -> None:
        from mlflow import MlflowClient

        from src.search import insight
        from src.search import study as studies
        from src.tracking import resume, store

        self.space = parse(self.params, arguments)  # checked by src.preflight already
        sweep_dir = Path(self.config.hydra.sweep.dir)
        self.study = study = studies.open_study(sweep_dir, self.space, self.sampler,
                                                self.settings.seed)
        client = MlflowClient(store.tracking_uri(self.config.tracking.uri))
        parent = resume.parent_run_id(sweep_dir)  # None without the tracking callback
        if parent:
            studies.record_start(client, parent, self.space, self.settings.n_trials,
                                 study.sampler)
        done = len(study.trials)
        log.info(f"Study {sweep_dir / studies.STORAGE}: {done} of {self.settings.n_trials} "
                 f"trials already asked; searching {self.space.describe()}")

        self._finish_interrupted(studies.trial_runs(client, parent) if parent else {})
        while (left := self.settings.n_trials - len(study.trials)) > 0:
            distributions = {key: p.distribution() for key, p in self.space.params.items()}
            batch = [study.ask(distributions) for _ in range(min(left, self._batch(left)))]
            self._launch([(trial.number, trial.params) for trial in batch])
            if parent:
                studies.record_best(client, parent, study, sweep_dir)
        if parent:  # when this launch only finished interrupted trials, or had nothing to do
            studies.record_best(client, parent, study, sweep_dir)
            insight.record(client, parent, study)
        if best := studies.best_trial(study):
            log.info(f"Best trial #{best.number}: {studies.OBJECTIVE} {best.value:.4f} "
                     f"with {best.params}")

    def _finish_interrupted(self, runs: dict[int, Any]) -> None:
        """Trials a killed launch left RUNNING: told their value if their run FINISHED, else
        run again as the same job, which resumes what the run had done."""
        import optuna

        from src.search.pruning import was_pruned
        from src.search.study import finished_value

        rerun = []
        for trial in self.study.get_trials(states=(optuna.trial.TrialState.RUNNING,)):
            value = finished_value(runs.get(trial.number))
            if was_pruned(runs[trial.number].data.tags if trial.number in runs else {}):
                self.study.tell(trial.number, state=optuna.trial.TrialState.PRUNED)
            elif value is None:
                rerun.append((trial.number, trial.params))
            else:
                self.study.tell(trial.number, value)
        if rerun:
            log.info(f"Resuming interrupted trial(s) {[number for number, _ in rerun]}")
            self._launch(rerun)

    def _launch(self, trials: Sequence[tuple[int, dict[str, Any]]]) -> None:
        """Run trials as the jobs numbered like them, tell the study each outcome, and stop
        the study when more fail than `max_failure_rate` allows."""
        import optuna

        from src.search.pruning import Pruned

        failed: list[JobReturn] = []
        # The launcher numbers a call's jobs consecutively: one call per run of numbers.
        for _, group in groupby(enumerate(trials), key=lambda item: item[1][0] - item[0]):
            group = [trial for _, trial in group]
            overrides = [[*self.space.overrides(params), *TRIAL_OVERRIDES]
                         for _, params in group]
            returns = self.launcher.launch(overrides, initial_job_idx=group[0][0])
            for (number, _), job in zip(group, returns, strict=True):
                if job.status == JobStatus.COMPLETED and isinstance(job.return_value, Pruned):
                    self.study.tell(number, state=optuna.trial.TrialState.PRUNED)
                elif job.status == JobStatus.COMPLETED:
                    self.study.tell(number, float(job.return_value))
                else:
                    self.study.tell(number, state=optuna.trial.TrialState.FAIL)
                    failed.append(job)
        if failed and len(failed) / len(trials) > self.settings.max_failure_rate:
            log.error(f"{len(failed)} of {len(trials)} trials failed (hydra.sweeper."
                      f"max_failure_rate={self.settings.max_failure_rate}): stopping the study")
            failed[0].return_value  # noqa: B018 - JobReturn raises the job's own exception

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

