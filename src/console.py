"""What a run prints: its MLflow run, a line per epoch headed by its name, its result; and
what a sweep prints: Hydra's job list, then after each job the count done and the time left.

The rest is start-up chatter no one acts on: TensorFlow's C++ lines (oneDNN, CPU features,
CUDA probing on a machine without a GPU) and MLflow's store-migration INFO lines. Both are
silenced by default; `MNIST_LAB_VERBOSE=1` brings them back, and a level you export yourself
(`TF_CPP_MIN_LOG_LEVEL`, `MLFLOW_LOGGING_LEVEL`) always wins.
"""

import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from src import machine

VERBOSE_ENV = "MNIST_LAB_VERBOSE"
QUIET_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "2",  # TensorFlow's C++ INFO and WARNING lines; errors still show
    "MLFLOW_LOGGING_LEVEL": "WARNING",  # "Creating initial MLflow database tables..." and such
}


def verbose() -> bool:
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")


def quiet_by_default() -> None:
    """Set the quiet levels before TensorFlow or MLflow loads; exported values win, and worker
    processes (joblib, submitit) inherit them."""
    if verbose():
        return
    for name, value in QUIET_ENV.items():
        os.environ.setdefault(name, value)
    logging.getLogger("matplotlib").setLevel(logging.WARNING)  # "generated new fontManager"


@contextmanager
def quiet_startup() -> Iterator[None]:
    """Hold back what the C++ runtime writes to stderr while TensorFlow loads and probes its
    devices, and show it only if that fails.

    TF_CPP_MIN_LOG_LEVEL does not reach the lines TensorFlow logs before it initializes absl
    logging (tensorflow/tensorflow#100442), so they are caught at the file descriptor.
    """
    if verbose():
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            os.write(2, held.read())
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def duration(seconds: float) -> str:
    """`55 s`, `3 min 10 s`, `1 h 05 min`."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class SweepProgress(Callback):
    """After each job of a multirun: `sweep: 2/6 jobs done in 3 min 10 s, about 6 min left`.

    The launching process records the sweep's size, its workers, each job's relative cost
    (machine.job_cost: a batchnorm job counts twice) and its start in the sweep dir; each job,
    in whatever process or node runs it, records its own start and end there and prints the
    count. The time left: the jobs done give the seconds per unit of cost; each running job
    has its expected length less what it has had, each waiting job its expected length, and
    the workers take them longest first (machine.makespan).
    """

    STARTED = "sweep_started.json"
    JOBS = "job_times.txt"  # `<job> start <time>` and `<job> end <time>` lines, appended

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from hydra_plugins.mnist_lab.launcher import job_costs, plan_tags
        from src.preflight import job_count, job_overrides

        sweep_dir = Path(config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        workers = int(plan_tags(config).get("sweep.workers", 1))
        jobs = job_count(config)
        costs = job_costs(config, job_overrides(config)) if jobs else None
        started = {"jobs": jobs, "workers": workers, "costs": costs, "time": time.time()}
        (sweep_dir / self.STARTED).write_text(json.dumps(started))
        (sweep_dir / self.JOBS).unlink(missing_ok=True)

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._record(config, "start")

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if self._record(config, "end"):
            print(self.line(Path(config.hydra.sweep.dir), time.time()), flush=True)

    def _record(self, config: DictConfig, event: str) -> bool:
        sweep_dir = Path(config.hydra.sweep.dir)
        if config.hydra.mode != RunMode.MULTIRUN or not (sweep_dir / self.STARTED).exists():
            return False
        with open(sweep_dir / self.JOBS, "a") as times:  # one short append: atomic
            times.write(f"{config.hydra.job.num} {event} {time.time()}\n")
        return True

    def line(self, sweep_dir: Path, now: float) -> str:
        sweep = json.loads((sweep_dir / self.STARTED).read_text())
        starts, ends = {}, {}
        for record in (sweep_dir / self.JOBS).read_text().splitlines():
            job, event, stamp = record.split()
            (starts if event == "start" else ends)[job] = float(stamp)
        line = f"sweep: {len(ends)}"
        line += f"/{sweep['jobs']}" if sweep["jobs"] else ""
        line += f" jobs done in {duration(now - sweep['time'])}"
        if not sweep["jobs"] or len(ends) >= sweep["jobs"]:
            return line
        costs = sweep.get("costs") or [1.0] * sweep["jobs"]
        per_cost = sum((ends[job] - starts[job]) / costs[int(job)] for job in ends) / len(ends)
        rest = [max(0.0, costs[int(job)] * per_cost - (now - start))
                for job, start in starts.items() if job not in ends]
        rest += [costs[job] * per_cost for job in range(sweep["jobs"]) if str(job) not in starts]
        left = machine.makespan(rest, sweep["workers"], sweep["workers"])
        return line + f", about {duration(left)} left"
