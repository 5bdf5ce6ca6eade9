"""Check a command's every job before Hydra creates a directory or MLflow a run.

`Preflight` is a Hydra callback, first in `hydra.callbacks` (conf/config.yaml). For a single
run it checks the config and what its dataset says of itself (the run then loads the data,
builds the model and reaches the server before it creates anything, src.train). For a
multirun it composes every job the sweep will launch, as the launcher will, checks each
config, locates and verifies each dataset the jobs read, builds each model they train (which
also costs the jobs for the launcher's plan) and reaches each tracking server: one bad value in
one job of a sweep launches none, and leaves nothing in the tracking store.

The config checks import nothing heavy: a rejected config is answered without loading
TensorFlow or MLflow. Building the models, the last check, loads Keras.
"""

from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from src import data, errors
from src.config import Config, to_typed
from src.search import space as search_space
from src.sweeps import cost, gpus, jobs, plan, rounds
from src.tracking import store


class Preflight(Callback):
    """The checks above, in the launching process; exits with one line on bad input."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        with errors.reported():
            data.describe(to_typed(config).dataset)  # val_size against its images, and such

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        gpus.allocate_as_needed_here()  # before the model builds below touch a GPU
        with errors.reported():
            if config.hydra.launcher._target_ == plan.LOCAL_LAUNCHER:
                launcher = config.hydra.launcher  # workers: auto or >= 1; jobs_per_gpu >= 1
                plan.sweep_plan(launcher.workers, [1.0], launcher.get("jobs_per_gpu", 1))
            trials = []
            if config.hydra.sweeper._target_ == search_space.TARGET:
                trials = search_space.preflight(config)  # the study's settings and space
            if config.hydra.sweeper._target_ == rounds.TARGET:
                rounds.check(config)  # a seed axis, variants, a baseline, the round size
            overrides, configs = zip(*jobs.job_configs(config), strict=True)
            for number, job in enumerate(configs):
                with jobs.labelled(number, overrides[number]):
                    data.describe(job.dataset)  # val_size against its images, and such
            check_data(configs)
            for uri in sorted({store.tracking_uri(job.tracking.uri) for job in configs}):
                store.check_reachable(uri)
                if config.hydra.launcher._target_ == plan.LOCAL_LAUNCHER:
                    plan.check_store(config.hydra.launcher.workers, uri)  # SQLite: a cap
            costs = []
            for number, job in enumerate(configs):  # builds each job's model: refuses what
                with jobs.labelled(number, overrides[number]):  # would not train
                    costs.extend(cost.costs_of([job]))
            if jobs.expands_up_front(config):
                cost.remember(overrides, costs,  # the launcher composes no job again
                              any(job.trainer.data_parallel for job in configs))
            cost.costs_of(trials)  # a study's models at the bounds of its space


def check_data(configs: tuple[Config, ...]) -> None:
    """Locate, read and verify every dataset the jobs use (src.data raises DataError)."""
    for cfg in {repr((c.dataset.loader, c.dataset.data_dir)): c for c in configs}.values():
        data.checked(data.loader(cfg.dataset).load(), cfg.dataset)
