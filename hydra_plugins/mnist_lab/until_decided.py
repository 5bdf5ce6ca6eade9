"""Seeds until decided as a Hydra sweeper: `hydra/sweeper=until_decided` (src/sweeps/rounds.py).
An adapter: it launches each round through the configured launcher, and src.sweeps.rounds and
src.compare.sequential read the runs and decide."""

import logging
from typing import Any, Optional

from hydra.core.plugins import Plugins
from hydra.core.utils import JobStatus
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig

log = logging.getLogger(__name__)


class UntilDecidedSweeper(Sweeper):
    def __init__(self, seeds_per_round: int = 2, alpha: float = 0.05,
                 baseline: Optional[str] = None) -> None:
        self.settings = {"seeds_per_round": seeds_per_round, "alpha": alpha,
                         "baseline": baseline}

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction,
              config: DictConfig) -> None:
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            config=config, hydra_context=hydra_context, task_function=task_function)

    def sweep(self, arguments: list[str]) -> Any:
        from pathlib import Path

        from mlflow import MlflowClient
        from mlflow.entities import RunTag

        from src.compare import sequential
        from src.sweeps import rounds
        from src.tracking import resume, store

        plan = rounds.design(arguments, DictConfig(self.settings))
        parent = resume.parent_run_id(Path(self.config.hydra.sweep.dir))
        client = MlflowClient(store.tracking_uri(self.config.tracking.uri))
        log.info(f"Seeds until decided: {', '.join(plan.variants[1:])} against "
                 f"{plan.variants[0]}, {plan.settings.seeds_per_round} seeds a round, at most "
                 f"{len(plan.seeds)} ({plan.rounds} rounds)")
        for round_number in range(1, plan.rounds + 1):
            results = rounds.accuracies(self.config, plan, round_number)
            if results is None:  # not every job of the round has FINISHED: run (or resume) it
                self._launch(plan, round_number)
                results = rounds.accuracies(self.config, plan, round_number, required=True)
            decisions = rounds.decisions(plan, results, round_number)
            tags = rounds.summary(plan, decisions, round_number)
            if parent:
                client.log_batch(parent, tags=[RunTag(k, v) for k, v in tags.items()])
            log.info(f"Round {round_number}/{plan.rounds}: " + "; ".join(
                f"{label}: {tags[rounds.tag_key(label)]}" for label in decisions))
            if sequential.settled({k: d.state for k, d in decisions.items()}):
                break

    def _launch(self, plan: Any, round_number: int) -> None:
        numbers = plan.round_jobs(round_number)
        returns = self.launcher.launch([plan.jobs[n][2] for n in numbers],
                                       initial_job_idx=numbers.start)
        failed = [job for job in returns if job.status != JobStatus.COMPLETED]
        if failed:  # a round with a missing seed cannot be decided: stop, as Hydra does
            failed[0].return_value  # noqa: B018 - JobReturn raises the job's own exception
