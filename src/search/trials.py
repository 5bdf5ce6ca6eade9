"""A study's trials run as Hydra jobs: each trial's seeds in rounds (src.search.seeds), a
round's jobs side by side in one launch, and every outcome told to the study.

The same code runs new trials and the ones a killed launch left RUNNING: a seed whose run
FINISHED is read from MLflow instead of trained again, a seed whose run was pruned prunes its
trial, and any other seed runs as its job again, which resumes what its run had done.
"""

import statistics
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import optuna
from hydra.core.utils import JobReturn, JobStatus

from src.search import seeds
from src.search.pruning import Pruned, was_pruned
from src.search.study import finished_value

# A round's jobs, with the Hydra job number of each: returns their JobReturns in that order.
Launch = Callable[[list[list[str]], list[int]], Sequence[JobReturn]]


@dataclass
class Outcome:
    failed: list[JobReturn] = field(default_factory=list)
    pruned_between_seeds: dict[int, int] = field(default_factory=dict)  # trial -> seeds run


@dataclass
class TrialJobs:
    study: optuna.Study
    k: int  # seeds per trial
    overrides: Callable[[dict, int], list[str]]  # a trial's params, a seed index -> overrides
    launch: Launch

    def run(self, trials: Sequence[optuna.trial.Trial],
            left_by_a_kill: Optional[dict[tuple[int, int], Any]] = None) -> Outcome:
        """Train `trials` and tell the study each one's outcome. `left_by_a_kill`: the MLflow
        runs of these trials' seeds from an earlier launch, by (trial, seed index)."""
        runs = left_by_a_kill or {}
        values: dict[int, dict[int, float]] = {trial.number: {} for trial in trials}
        alive = {trial.number: trial for trial in trials}
        outcome = Outcome()
        for seed_indices in seeds.rounds(self.k, self.study.pruner):
            todo = []
            for number in list(alive):
                for j in seed_indices:
                    tags = runs[number, j].data.tags if (number, j) in runs else {}
                    if was_pruned(tags) is not None:
                        self._prune(alive.pop(number))
                        break
                    if (value := finished_value(runs.get((number, j)))) is not None:
                        values[number][j] = value
                    else:
                        todo.append((number, j))
            todo = [(number, j) for number, j in todo if number in alive]
            returns = self.launch(
                [self.overrides(alive[number].params, j) for number, j in todo],
                [seeds.job_number(number, j, self.k) for number, j in todo]) if todo else []
            for (number, j), job in zip(todo, returns, strict=True):
                if number not in alive:  # another seed of it failed in this round
                    continue
                if job.status != JobStatus.COMPLETED:
                    self.study.tell(alive.pop(number), state=optuna.trial.TrialState.FAIL)
                    outcome.failed.append(job)
                elif isinstance(job.return_value, Pruned):
                    self._prune(alive.pop(number))
                else:
                    values[number][j] = float(job.return_value)
            if seeds.per_seed(self.study.pruner):
                for number in list(alive):
                    if self._worse_seed_by_seed(alive[number], values[number]):
                        outcome.pruned_between_seeds[number] = len(values[number])
                        self._prune(alive.pop(number))
        for number, trial in alive.items():
            self._complete(trial, [values[number][j] for j in range(self.k)])
        return outcome

    def _worse_seed_by_seed(self, trial: optuna.trial.Trial, values: dict[int, float]) -> bool:
        """Each seed's value reported as its own step (the seed index), so the pruner pairs it
        with the best trial's value at the same seed."""
        with warnings.catch_warnings():  # a relaunch reports the same steps again: ignored
            warnings.simplefilter("ignore", UserWarning)
            for j, value in sorted(values.items()):
                trial.report(value, step=j)
        return trial.should_prune()

    def _prune(self, trial: optuna.trial.Trial) -> None:
        self.study.tell(trial, state=optuna.trial.TrialState.PRUNED)

    def _complete(self, trial: optuna.trial.Trial, values: list[float]) -> None:
        """The trial's value is its seeds' mean; each seed and the spread stay beside it."""
        if self.k > 1:
            for key, value in seeds.spread(values).items():
                trial.set_user_attr(key, value)
        self.study.tell(trial, statistics.fmean(values))


def running(study: optuna.Study) -> list[optuna.trial.Trial]:
    """The trials a killed launch left RUNNING, as trials the sweeper can report and tell."""
    # FrozenTrial exposes its storage id only as `_trial_id`: Optuna has no public lookup.
    return [optuna.trial.Trial(study, frozen._trial_id) for frozen in
            study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))]
