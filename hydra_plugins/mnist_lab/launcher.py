"""The default sweep launcher: Hydra's joblib launcher (loky worker processes), with as many
jobs side by side as src/sweeps/plan.py plans for this machine and this sweep, longest first
(what each job costs: src/sweeps/cost.py). An adapter: the decisions live in src.sweeps.

    hydra.launcher.workers=auto   # the default: from the jobs, the cores, memory and GPUs
    hydra.launcher.workers=1      # one job after another (in the launching process)
    hydra.launcher.workers=4      # four side by side
    hydra.launcher.jobs_per_gpu=4 # with GPUs: four jobs share each (default 1: one job a GPU)
"""

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

from src import console
from src.sweeps import cost, gpus
from src.sweeps.plan import store_cap, sweep_plan, thread_env
from src.tracking.store import tracking_uri

log = logging.getLogger(__name__)


def execute_job(launcher_pid: int, slots: Sequence[str], sweep_dir: str, *job: Any) -> JobReturn:
    """Hydra's joblib execute_job, in a worker that stops with the launching process and
    trains on its slot's GPU."""
    in_worker = os.getpid() != launcher_pid  # not in the launching process itself
    if in_worker:
        stop_with_parent(launcher_pid)
        gpus.worker_environment(slots)
        console.quick_exit()  # the launching process waits for this worker's exit
    gpus.claim(sweep_dir, slots)
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

    def __init__(self, workers: Any = "auto", jobs_per_gpu: Any = 1, **joblib: Any) -> None:
        super().__init__(**joblib)
        self.workers, self.jobs_per_gpu = workers, jobs_per_gpu

    def launch(self, job_overrides: Sequence[Sequence[str]],
               initial_job_idx: int) -> Sequence[JobReturn]:
        numbers = range(initial_job_idx, initial_job_idx + len(job_overrides))
        return self.launch_numbered(job_overrides, list(numbers))

    def launch_numbered(self, job_overrides: Sequence[Sequence[str]],
                        numbers: Sequence[int]) -> Sequence[JobReturn]:
        """`job_overrides[i]` as Hydra job `numbers[i]` (a study's seeds are not consecutive)."""
        # As hydra_joblib_launcher._core.launch does, but with the plan's worker count, the
        # costliest jobs first and each job with its own number (its execute_job is reused).
        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        costs = cost.job_costs(self.config, job_overrides)
        plan = sweep_plan(self.workers, costs, self.jobs_per_gpu,
                          cost.data_parallel(self.config, job_overrides),
                          store_cap(tracking_uri(self.config.tracking.uri)),
                          cost.worker_start(job_overrides))
        if plan.warning:
            log.warning(plan.warning)
        for name, value in thread_env(plan).items():  # workers inherit this environment
            os.environ.setdefault(name, value)
        log.info(f"{plan.workers} job(s) side by side, {os.environ['TF_NUM_INTRAOP_THREADS']} "
                 f"TensorFlow thread(s) each ({plan.why}); sweep dir {self.config.hydra.sweep.dir}")
        for number, overrides in zip(numbers, job_overrides, strict=True):
            log.info(f"\t#{number} : {' '.join(filter_overrides(overrides))}")
        order = sorted(range(len(job_overrides)), key=lambda i: -costs[i])
        joblib = {**self.joblib, "n_jobs": plan.workers, "backend": "loky"}
        _core.process_joblib_cfg(joblib)
        state = Singleton.get_state()
        returns = Parallel(**joblib)(
            delayed(execute_job)(os.getpid(), plan.gpus, str(self.config.hydra.sweep.dir),
                                 numbers[i], job_overrides[i],
                                 self.hydra_context, self.config, self.task_function, state)
            for i in order)
        by_job = dict(zip(order, returns, strict=True))
        return [by_job[i] for i in range(len(job_overrides))]
