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
from dataclasses import dataclass
from pathlib import Path

from src.config import TRAIN_IMAGES, Config

JOB_MEMORY_GB = 2.5  # a training job peaks at ~1.6 GB resident; the rest is headroom


@dataclass(frozen=True)
class Plan:
    workers: int  # jobs side by side
    threads_per_job: int  # each job's TensorFlow intra-op threads
    why: str  # what it was chosen from; logged on the sweep's parent run


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


def job_cost(cfg: Config) -> float:
    """A job's relative cost, to run the longest first: images through the model, validation
    (forward only) a third of a training image, batch normalization twice the step (Keras 3's
    unfused BN on a CPU, BENCHMARKS.md)."""
    size = cfg.dataset.val_size
    val = size * TRAIN_IMAGES if size < 1 else size
    train = TRAIN_IMAGES - val
    if cfg.dataset.train_limit is not None:
        train = min(train, cfg.dataset.train_limit)
    return cfg.trainer.epochs * (train + val / 3) * (2.0 if cfg.reg.batchnorm else 1.0)
