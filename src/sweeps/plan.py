"""How many sweep jobs this machine runs side by side, and with how many threads each.

One TensorFlow job at batch 32 keeps about one core busy: its per-batch Python and its many
small kernels leave the others idle, and a second thread speeds a lone job up by ~10 %. So on a
CPU-only machine a sweep runs jobs side by side, longest first, as many at once as finish the
sweep soonest (BENCHMARKS.md measures the alternatives), each job's TensorFlow with a thread
pool of its share of the cores, and never more jobs than memory holds. A GPU is never shared:
on a machine with one, jobs run one at a time, each with the GPU to itself.

No MLflow, Keras or TensorFlow: the launching process decides this before anything heavy loads.
"""

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from src.config import ConfigError
from src.sweeps import cost, jobs

JOB_MEMORY_GB = 2.5  # a training job peaks at ~1.6 GB resident; the rest is headroom
# The launcher this package plans for (hydra_plugins/mnist_lab/launcher.py), named as Hydra
# instantiates it: the project refers to its plugin by name and never imports it.
LOCAL_LAUNCHER = "hydra_plugins.mnist_lab.launcher.LocalLauncher"


@dataclass(frozen=True)
class Plan:
    workers: int  # jobs side by side
    threads_per_job: int  # each job's TensorFlow intra-op threads
    why: str  # what it was chosen from; logged on the sweep's parent run
    warning: str = ""  # why a count the user asked for was lowered, for the launcher to say


def cores() -> int:
    """The cores this process may run on (a container's or taskset's limit, not the host's)."""
    return len(os.sched_getaffinity(0))


def memory_gb() -> float:
    """Memory available for new processes, from /proc/meminfo (Linux); inf where unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return float("inf")


def gpus() -> int:
    """NVIDIA GPUs this process may use: CUDA_VISIBLE_DEVICES if set, else `nvidia-smi -L`."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() not in ("", "-1")])
    if not shutil.which("nvidia-smi"):
        return 0
    listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
    return sum(line.startswith("GPU ") for line in listed.stdout.splitlines())


def makespan(costs: list[float], workers: int, n_cores: int) -> float:
    """How long jobs of these costs take with `workers` side by side, longest first, the cores
    shared evenly among the running jobs and no job faster than one core (see above)."""
    waiting, running, elapsed = sorted(costs, reverse=True), [], 0.0
    while waiting or running:
        while waiting and len(running) < workers:
            running.append(waiting.pop(0))
        speed = min(1.0, n_cores / len(running))
        step = min(running) / speed
        elapsed += step
        running = [left - step * speed for left in running if left - step * speed > 1e-9]
    return elapsed


def plan(costs: list[float], n_cores: int | None = None, n_gpus: int | None = None,
         free_gb: float | None = None) -> Plan:
    """How to run jobs of these (relative) costs on this machine, or on the one the other
    arguments describe: the number of workers whose `makespan` is shortest (the fewest among
    equals), within memory. Three equal jobs on two cores run all at once rather than two and
    then one alone; two short jobs and one twice as long run as two workers, the long one on
    a core of its own."""
    n_cores = cores() if n_cores is None else n_cores
    n_gpus = gpus() if n_gpus is None else n_gpus
    free_gb = memory_gb() if free_gb is None else free_gb
    if n_gpus:
        return Plan(1, n_cores, f"{n_gpus} GPU(s), never shared: one job at a time")
    fits = max(1, int(free_gb // JOB_MEMORY_GB))
    candidates = range(1, max(1, min(len(costs), fits)) + 1)
    workers = min(candidates, key=lambda w: (round(makespan(costs, w, n_cores), 6), w))
    why = f"{len(costs)} jobs, {n_cores} cores, no GPU"
    if fits < min(len(costs), n_cores + 1):
        why += f", {free_gb:.0f} GB free: room for {fits} jobs of ~{JOB_MEMORY_GB} GB"
    return Plan(workers, max(1, n_cores // workers), why)


@cache
def _auto_plan(costs: tuple[float, ...]) -> Plan:
    return plan(list(costs))  # once per sweep: memory read twice could disagree


def sweep_plan(workers: Any, costs: Sequence[float]) -> Plan:
    """`hydra.launcher.workers` (auto or a count) as a plan for jobs of these costs."""
    if workers == "auto":
        return _auto_plan(tuple(costs))
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"hydra.launcher.workers={workers!r} is invalid: it must be auto or a "
                          "number of jobs side by side >= 1 (1 runs them one after another)")
    return _given_plan(workers, len(costs))


@cache
def _given_plan(workers: int, jobs: int) -> Plan:
    """A count the user gave, never more than the jobs (a worker without a job is a process
    for nothing) nor than memory holds (once per sweep, as `_auto_plan`)."""
    chosen, why, warning = workers, f"hydra.launcher.workers={workers}", ""
    if chosen > jobs:
        chosen, why = jobs, f"{why}, capped at the {jobs} job(s)"
    free_gb = memory_gb()
    fits = max(1, int(free_gb // JOB_MEMORY_GB))
    if chosen > fits:
        chosen, why = fits, f"{why}, capped at {fits}: {free_gb:.0f} GB free"
        warning = (f"hydra.launcher.workers={workers}: running {fits} side by side, as many "
                   f"jobs of ~{JOB_MEMORY_GB} GB as the {free_gb:.0f} GB free memory holds")
    return Plan(chosen, max(1, cores() // chosen), why, warning)


def thread_env(chosen: Plan) -> dict[str, str]:
    """Each job's TensorFlow takes its share of the cores, and with jobs side by side runs its
    ops one at a time (one inter-op thread: ~15 % less CPU per image here, BENCHMARKS.md)."""
    env = {"TF_NUM_INTRAOP_THREADS": str(chosen.threads_per_job)}
    if chosen.workers > 1:
        env["TF_NUM_INTEROP_THREADS"] = "1"
    return env


def launcher_name(config: DictConfig) -> str:
    return config.hydra.launcher._target_.rsplit(".", 1)[-1]


def runs_jobs_here(config: DictConfig) -> bool:
    """Whether the jobs run on this machine, as this process's children or in it."""
    return launcher_name(config) in ("LocalLauncher", "BasicLauncher")


def plan_tags(config: DictConfig) -> dict[str, str]:
    """How a multirun runs its jobs, as tags for its parent run."""
    launcher, name = config.hydra.launcher, launcher_name(config)
    if launcher._target_ == LOCAL_LAUNCHER:
        if (count := jobs.job_count(config)) is None:  # chosen as it goes (Optuna): equal trials
            sweeper = config.hydra.sweeper
            batch = sweeper.get("n_jobs", "auto")
            costs = [1.0] * (sweeper.get("n_trials", 1) if batch == "auto" else batch)
        elif launcher.workers == "auto":  # only then do the jobs' costs matter
            costs = cost.job_costs(config, jobs.job_overrides(config))
        else:
            costs = [1.0] * count
        chosen = sweep_plan(launcher.workers, costs)
    elif name == "BasicLauncher":
        chosen = Plan(1, cores(), "hydra/launcher=basic: one job after another")
    else:
        return {"sweep.launcher": name}
    threads = os.environ.get("TF_NUM_INTRAOP_THREADS", str(chosen.threads_per_job))
    return {"sweep.launcher": name, "sweep.workers": str(chosen.workers),
            "sweep.threads_per_job": threads, "sweep.plan": chosen.why}
