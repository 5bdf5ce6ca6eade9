"""How many sweep jobs this machine runs side by side, and with how many threads each.

One TensorFlow job at batch 32 keeps about one core busy: its per-batch Python and its many
small kernels leave the others idle, and a second thread speeds a lone job up by ~10 %. So on a
CPU-only machine a sweep runs jobs side by side, longest first, as many at once as finish the
sweep soonest (BENCHMARKS.md measures the alternatives), each job's TensorFlow with a thread
pool of its share of the cores, and never more jobs than memory holds. On a machine with GPUs,
one job per GPU, each pinned to its own (src.sweeps.gpus), or `jobs_per_gpu` per GPU sharing
it; data-parallel jobs one at a time, each with every GPU.

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
from src.sweeps import cost, jobs, rounds
from src.sweeps.gpus import SHARED
from src.sweeps.gpus import environment as gpus_env

JOB_MEMORY_GB = 2.5  # a training job peaks at ~1.6 GB resident; the rest is headroom
# The launcher this package plans for (hydra_plugins/mnist_lab/launcher.py), named as Hydra
# instantiates it: the project refers to its plugin by name and never imports it.
LOCAL_LAUNCHER = "hydra_plugins.mnist_lab.launcher.LocalLauncher"


# Jobs side by side that the default SQLite store serves without a locked write, measured
# with benchmarks/tracking_load.py (BENCHMARKS.md, "Tracking under load"); a server holds more.
SQLITE_MAX_WORKERS = 128


@dataclass(frozen=True)
class Plan:
    workers: int  # jobs side by side
    threads_per_job: int  # each job's TensorFlow intra-op threads
    why: str  # what it was chosen from; logged on the sweep's parent run
    warning: str = ""  # why a count the user asked for was lowered, for the launcher to say
    gpus: tuple[str, ...] = ()  # the GPU each worker slot is pinned to; () leaves them all


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


def gpu_ids() -> list[str]:
    """NVIDIA GPUs this process may use, as CUDA_VISIBLE_DEVICES names them: its entries if
    it is set, else `nvidia-smi -L`'s indices."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [d.strip() for d in visible.split(",") if d.strip() not in ("", "-1")]
    if not shutil.which("nvidia-smi"):
        return []
    listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
    return [str(n) for n in range(sum(line.startswith("GPU ")
                                      for line in listed.stdout.splitlines()))]


def on_gpus(slots: int, ids: Sequence[str]) -> tuple[str, ...]:
    """`slots` workers over the GPUs, round robin: every GPU busy before any gets a second."""
    return tuple(ids[n % len(ids)] for n in range(slots))


def makespan(costs: list[float], workers: int, n_cores: int, start: float = 0.0) -> float:
    """How long jobs of these costs take with `workers` side by side, longest first, the cores
    shared evenly among the running jobs and no job faster than one core (see above); each
    worker's first job pays `start` on top."""
    waiting = [job + start * (n < workers) for n, job in enumerate(sorted(costs, reverse=True))]
    running, elapsed = [], 0.0
    while waiting or running:
        while waiting and len(running) < workers:
            running.append(waiting.pop(0))
        speed = min(1.0, n_cores / len(running))
        step = min(running) / speed
        elapsed += step
        running = [left - step * speed for left in running if left - step * speed > 1e-9]
    return elapsed


def plan(costs: list[float], n_cores: int | None = None, n_gpus: int | None = None,
         free_gb: float | None = None, jobs_per_gpu: int = 1,
         data_parallel: bool = False, start: float = 0.0) -> Plan:
    """How to run jobs of these (relative) costs on this machine, or on the one the other
    arguments describe. With GPUs: `jobs_per_gpu` workers a GPU, each pinned. Else the number
    of workers whose `makespan` is shortest (the fewest among equals), within memory. Three
    equal jobs on two cores run all at once rather than two and then one alone; two short jobs
    and one twice as long run as two workers, the long one on a core of its own. `start`: what
    a worker's start-up costs (src.sweeps.cost.worker_start), so short jobs keep fewer."""
    n_cores = cores() if n_cores is None else n_cores
    ids = gpu_ids() if n_gpus is None else [str(n) for n in range(n_gpus)]
    free_gb = memory_gb() if free_gb is None else free_gb
    fits = max(1, int(free_gb // JOB_MEMORY_GB))
    if ids and data_parallel:
        return Plan(1, n_cores, f"{len(ids)} GPU(s), data-parallel jobs: one at a time on all")
    ignored = "" if ids or jobs_per_gpu == 1 else (
        f"hydra.launcher.jobs_per_gpu={jobs_per_gpu} is ignored: no GPU is visible")
    if ids:
        slots = max(1, min(len(costs), len(ids) * jobs_per_gpu, fits))
        why = f"{len(ids)} GPU(s), {jobs_per_gpu} job(s) a GPU"
        if slots < min(len(costs), len(ids) * jobs_per_gpu):
            why += f", {free_gb:.0f} GB free: room for {fits} jobs of ~{JOB_MEMORY_GB} GB"
        return Plan(slots, max(1, n_cores // slots), why, gpus=on_gpus(slots, ids))
    candidates = range(1, max(1, min(len(costs), fits)) + 1)
    workers = min(candidates,
                  key=lambda w: (round(makespan(costs, w, n_cores, start), 6), w))
    why = f"{len(costs)} jobs, {n_cores} cores, no GPU"
    if fits < min(len(costs), n_cores + 1):
        why += f", {free_gb:.0f} GB free: room for {fits} jobs of ~{JOB_MEMORY_GB} GB"
    return Plan(workers, max(1, n_cores // workers), why, ignored)


@cache  # once per sweep: memory read twice could disagree
def _auto_plan(costs: tuple, jobs_per_gpu: int, data_parallel: bool, start: float) -> Plan:
    return plan(list(costs), jobs_per_gpu=jobs_per_gpu, data_parallel=data_parallel, start=start)


def store_cap(uri: str) -> int | None:
    """The most jobs side by side that may log to `uri`: SQLITE_MAX_WORKERS for a SQLite file."""
    return SQLITE_MAX_WORKERS if uri.startswith("sqlite:") else None


def check_store(workers: Any, uri: str) -> None:
    """A worker count above what the jobs' store holds, refused before any job starts."""
    cap = store_cap(uri)
    if cap and type(workers) is int and workers > cap:
        raise ConfigError(
            f"hydra.launcher.workers={workers}: the SQLite store {uri} holds {cap} jobs side by "
            f"side without locked writes (BENCHMARKS.md); use hydra.launcher.workers<={cap}, or "
            "log to a tracking server (scripts/tracking-server.sh; tracking.uri=http://...)")


def sweep_plan(workers: Any, costs: Sequence[float], jobs_per_gpu: Any = 1,
               data_parallel: bool = False, max_workers: int | None = None,
               start: float = 0.0) -> Plan:
    """`hydra.launcher.workers` (auto or a count) and `hydra.launcher.jobs_per_gpu` as a plan
    for jobs of these costs, each worker's start-up costing `start`; never more than
    `max_workers` (the store's `store_cap`)."""
    chosen = _sweep_plan(workers, costs, jobs_per_gpu, data_parallel, start)
    if max_workers is None or chosen.workers <= max_workers:
        return chosen
    return Plan(max_workers, max(1, cores() // max_workers),
                f"{chosen.why}, capped at {max_workers} for a SQLite store", chosen.warning,
                chosen.gpus[:max_workers])


def _sweep_plan(workers: Any, costs: Sequence[float], jobs_per_gpu: Any,
                data_parallel: bool, start: float) -> Plan:
    if isinstance(jobs_per_gpu, bool) or not isinstance(jobs_per_gpu, int) or jobs_per_gpu < 1:
        raise ConfigError(f"hydra.launcher.jobs_per_gpu={jobs_per_gpu!r} is invalid: it must be "
                          "a number of jobs sharing each GPU >= 1 (the default, 1, gives each "
                          "job a GPU of its own)")
    if workers == "auto":
        return _auto_plan(tuple(costs), jobs_per_gpu, data_parallel, start)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"hydra.launcher.workers={workers!r} is invalid: it must be auto or a "
                          "number of jobs side by side >= 1 (1 runs them one after another)")
    return _given_plan(workers, len(costs), data_parallel)


@cache
def _given_plan(workers: int, jobs: int, data_parallel: bool = False) -> Plan:
    """A count the user gave, never more than the jobs (a worker without a job is a process
    for nothing) nor than memory holds (once per sweep, as `_auto_plan`); on GPUs, the
    workers spread over them round robin."""
    chosen, why, warning = workers, f"hydra.launcher.workers={workers}", ""
    if chosen > jobs:
        chosen, why = jobs, f"{why}, capped at the {jobs} job(s)"
    free_gb = memory_gb()
    fits = max(1, int(free_gb // JOB_MEMORY_GB))
    if chosen > fits:
        chosen, why = fits, f"{why}, capped at {fits}: {free_gb:.0f} GB free"
        warning = (f"hydra.launcher.workers={workers}: running {fits} side by side, as many "
                   f"jobs of ~{JOB_MEMORY_GB} GB as the {free_gb:.0f} GB free memory holds")
    ids = [] if data_parallel else gpu_ids()
    return Plan(chosen, max(1, cores() // chosen), why, warning, on_gpus(chosen, ids) if ids
                else ())


def thread_env(chosen: Plan) -> dict[str, str]:
    """Each job's TensorFlow takes its share of the cores, and with jobs side by side runs its
    ops one at a time (one inter-op thread: ~15 % less CPU per image here, BENCHMARKS.md);
    jobs sharing a GPU are told so (src.sweeps.gpus)."""
    env = {"TF_NUM_INTRAOP_THREADS": str(chosen.threads_per_job), **gpus_env(chosen.gpus)}
    if chosen.workers > 1:
        env["TF_NUM_INTEROP_THREADS"] = "1"
    return env


def launcher_name(config: DictConfig) -> str:
    return config.hydra.launcher._target_.rsplit(".", 1)[-1]


def runs_jobs_here(config: DictConfig) -> bool:
    """Whether the jobs run on this machine, as this process's children or in it."""
    return launcher_name(config) in ("LocalLauncher", "BasicLauncher")


def launched_at_once(config: DictConfig) -> list[list[str]] | None:
    """The jobs one launch hands the launcher: every job of the sweep, the first round of seeds
    until decided (each round is a launch), None where the sweeper chooses jobs as it goes."""
    if config.hydra.sweeper._target_ == rounds.TARGET:
        return rounds.first_round(config)
    return jobs.job_overrides(config) if jobs.expands_up_front(config) else None


def plan_tags(config: DictConfig) -> dict[str, str]:
    """How a multirun runs its jobs, as tags for its parent run."""
    launcher, name = config.hydra.launcher, launcher_name(config)
    if launcher._target_ == LOCAL_LAUNCHER:
        if (overrides := launched_at_once(config)) is None:  # Optuna and such: equal trials
            sweeper = config.hydra.sweeper
            batch = sweeper.get("n_jobs", "auto")
            costs = [1.0] * (sweeper.get("n_trials", 1) if batch == "auto" else batch)
            overrides = []
        elif launcher.workers == "auto":  # only then do the jobs' costs matter
            costs = cost.job_costs(config, overrides)
        else:
            costs = [1.0] * len(overrides)
        start = cost.worker_start(overrides) if launcher.workers == "auto" else 0.0
        chosen = sweep_plan(launcher.workers, costs, launcher.get("jobs_per_gpu", 1),
                            cost.data_parallel(config, overrides), start=start)
    elif name == "BasicLauncher":
        chosen = Plan(1, cores(), "hydra/launcher=basic: one job after another")
    else:
        return {"sweep.launcher": name}
    threads = os.environ.get("TF_NUM_INTRAOP_THREADS", str(chosen.threads_per_job))
    tags = {"sweep.launcher": name, "sweep.workers": str(chosen.workers),
            "sweep.threads_per_job": threads, "sweep.plan": chosen.why}
    if chosen.gpus:  # each worker slot's GPU, in slot order
        tags.update({"sweep.gpus": ",".join(chosen.gpus),
                     "sweep.jobs_per_gpu": gpus_env(chosen.gpus)[SHARED]})
    return tags
