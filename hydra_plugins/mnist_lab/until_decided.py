"""Seeds until decided as a Hydra sweeper: `hydra/sweeper=until_decided` (src/sweeps/rounds.py).
An adapter: it launches each round through the configured launcher, and src.sweeps.rounds and
src.compare.sequential read the runs and decide."""

from typing import Any, Optional

from hydra.core.plugins import Plugins
from hydra.core.utils import JobStatus
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


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
        from src.sweeps import rounds

        plan = rounds.design(arguments, DictConfig(self.settings))
        rounds.run(self.config, plan, self._launch)

    def _launch(self, overrides: list[list[str]], first: int) -> None:
        returns = self.launcher.launch(overrides, initial_job_idx=first)
        failed = [job for job in returns if job.status != JobStatus.COMPLETED]
        if failed:  # a round with a missing seed cannot be decided: stop, as Hydra does
            failed[0].return_value  # noqa: B018 - JobReturn raises the job's own exception
