"""The default sweep launcher: Hydra's joblib launcher (loky worker processes), with as many
jobs side by side as src/machine.py plans for this machine and this sweep, longest first.

    hydra.launcher.workers=auto   # the default: from the jobs, the cores, memory and GPUs
    hydra.launcher.workers=1      # one job after another (in the launching process)
    hydra.launcher.workers=4      # four side by side
"""

import functools
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, configure_log, filter_overrides, setup_globals
from hydra_plugins.hydra_joblib_launcher import _core
from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher
from joblib import Parallel, delayed
from omegaconf import DictConfig

from src import machine
from src.config import Config, ConfigError, to_typed

log = logging.getLogger(__name__)
TARGET = "hydra_plugins.mnist_lab.launcher.LocalLauncher"
MAX_COSTED_JOBS = 200  # composing a job takes ~0.1 s: larger sweeps count every job as equal


_costs: dict[tuple, list[float]] = {}  # the launching process composes each sweep's jobs once


def job_costs(config: DictConfig, job_overrides: Sequence[Sequence[str]]) -> list[float]:
    """Each job's relative cost (machine.job_cost), from its composed config."""
    key = tuple(tuple(overrides) for overrides in job_overrides)
    if key not in _costs:
        if len(job_overrides) > MAX_COSTED_JOBS:
            _costs[key] = [1.0] * len(job_overrides)
        else:
            from hydra.core.global_hydra import GlobalHydra

            loader = GlobalHydra.instance().config_loader()
            _costs[key] = [
                machine.job_cost(to_typed(loader.load_sweep_config(config, list(overrides))))
                for overrides in job_overrides]
    return _costs[key]


def remember_costs(job_overrides: Sequence[Sequence[str]], jobs: Sequence[Config]) -> None:
    """The jobs' costs from configs src.preflight has composed already."""
    _costs[tuple(tuple(overrides) for overrides in job_overrides)] = list(map(machine.job_cost,
                                                                              jobs))


@functools.cache
def _auto_plan(costs: tuple[float, ...]) -> machine.Plan:
    return machine.plan(list(costs))  # once per sweep: memory read twice could disagree


def sweep_plan(workers: Any, costs: Sequence[float]) -> machine.Plan:
    """`hydra.launcher.workers` (auto or a count) as a plan for jobs of these costs."""
    if workers == "auto":
        return _auto_plan(tuple(costs))
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"hydra.launcher.workers={workers!r} is invalid: it must be auto or a "
                          "number of jobs side by side >= 1 (1 runs them one after another)")
    threads = max(1, machine.cores() // workers)
    return machine.Plan(workers, threads, f"hydra.launcher.workers={workers}")


def thread_env(plan: machine.Plan) -> dict[str, str]:
    """Each job's TensorFlow takes its share of the cores, and with jobs side by side runs its
    ops one at a time (one inter-op thread: ~15 % less CPU per image here, BENCHMARKS.md)."""
    env = {"TF_NUM_INTRAOP_THREADS": str(plan.threads_per_job)}
    if plan.workers > 1:
        env["TF_NUM_INTEROP_THREADS"] = "1"
    return env


def plan_tags(config: DictConfig) -> dict[str, str]:
    """How a multirun runs its jobs, as tags for its parent run."""
    from src.preflight import job_count, job_overrides

    launcher = config.hydra.launcher
    name = launcher._target_.rsplit(".", 1)[-1]
    if launcher._target_ == TARGET:
        auto = launcher.workers == "auto"  # only then do the jobs' costs matter
        if (count := job_count(config)) is None:  # chosen as it goes (Optuna): equal trials
            sweeper = config.hydra.sweeper
            batch = sweeper.get("n_jobs", "auto")
            count = sweeper.get("n_trials", 1) if batch == "auto" else batch
            costs = [1.0] * count
        else:
            costs = job_costs(config, job_overrides(config)) if auto else [1.0] * count
        plan = sweep_plan(launcher.workers, costs)
    elif name == "BasicLauncher":
        plan = machine.Plan(1, machine.cores(), "hydra/launcher=basic: one job after another")
    else:
        return {"sweep.launcher": name}
    threads = os.environ.get("TF_NUM_INTRAOP_THREADS", str(plan.threads_per_job))
    return {"sweep.launcher": name, "sweep.workers": str(plan.workers),
            "sweep.threads_per_job": threads, "sweep.plan": plan.why}


def runs_jobs_here(config: DictConfig) -> bool:
    """Whether the jobs run on this machine, as this process's children or in it."""
    return config.hydra.launcher._target_.rsplit(".", 1)[-1] in ("LocalLauncher", "BasicLauncher")


def execute_job(launcher_pid: int, *job: Any) -> JobReturn:
    """Hydra's joblib execute_job, in a worker that stops with the launching process."""
    in_worker = os.getpid() != launcher_pid  # not in the launching process itself
    if in_worker:
        stop_with_parent(launcher_pid)
    try:
        return _core.execute_job(*job)
    finally:
        if in_worker and os.getppid() != launcher_pid:  # no one to return to: loky would
            sys.stdout.flush()  # keep this worker idle for 5 minutes, holding its memory
            sys.stderr.flush()
            os._exit(1)


_watching: set[int] = set()


def stop_with_parent(parent_pid: int, every: float = 1.0) -> None:
    """SIGTERM this worker once `parent_pid` is gone (kill -9, a crash): the job's run then
    ends KILLED with its backup kept, instead of training on unseen while the relaunched sweep
    resumes the same job dir. loky ends orphaned workers only between jobs."""
    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(every)
        log.error(f"The sweep's process {parent_pid} is gone: stopping this job")
        os.kill(os.getpid(), signal.SIGTERM)

    if parent_pid not in _watching:  # loky reuses a worker for several jobs: one watcher
        _watching.add(parent_pid)
        threading.Thread(target=watch, name="stop-with-sweep", daemon=True).start()


class LocalLauncher(JoblibLauncher):
    """JoblibLauncher whose worker count comes from `sweep_plan`, dispatching the costliest
    jobs first. Each job keeps the number Hydra gave it (its output dir, and so its resume
    state, go by that number) and results return in Hydra's order."""

    def __init__(self, workers: Any = "auto", **joblib: Any) -> None:
        super().__init__(**joblib)
        self.workers = workers

    def launch(self, job_overrides: Sequence[Sequence[str]],
               initial_job_idx: int) -> Sequence[JobReturn]:
        # As hydra_joblib_launcher._core.launch does, but with the plan's worker count, the
        # costliest jobs first and each job with its own number (its execute_job is reused).
        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        costs = job_costs(self.config, job_overrides)
        plan = sweep_plan(self.workers, costs)
        for name, value in thread_env(plan).items():  # workers inherit this environment
            os.environ.setdefault(name, value)
        log.info(f"{plan.workers} job(s) side by side, {os.environ['TF_NUM_INTRAOP_THREADS']} "
                 f"TensorFlow thread(s) each ({plan.why}); sweep dir {self.config.hydra.sweep.dir}")
        for idx, overrides in enumerate(job_overrides):
            log.info(f"\t#{initial_job_idx + idx} : {' '.join(filter_overrides(overrides))}")
        order = sorted(range(len(job_overrides)), key=lambda i: -costs[i])
        joblib = {**self.joblib, "n_jobs": plan.workers, "backend": "loky"}
        _core.process_joblib_cfg(joblib)
        state = Singleton.get_state()
        returns = Parallel(**joblib)(
            delayed(execute_job)(os.getpid(), initial_job_idx + i, job_overrides[i],
                                 self.hydra_context, self.config, self.task_function, state)
            for i in order)
        by_job = dict(zip(order, returns, strict=True))
        return [by_job[i] for i in range(len(job_overrides))]
