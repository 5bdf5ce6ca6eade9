"""After each job of a multirun: `sweep: 2/6 jobs done in 3 min 10 s, about 6 min left`."""

import json
import os
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from src.console import duration
from src.sweeps import cost, jobs, plan


class SweepProgress(Callback):
    """The launching process records the sweep's size, its workers, each job's cost
    (`src.sweeps.cost`), what a worker's start-up costs and its start in the sweep dir; each
    job, in whatever process or node runs it, records its own start, end and process there and
    prints the count. The time left: the jobs done give the core-seconds per unit of cost (a job
    sharing a core with others had part of it; one that was its process's first also paid the
    start-up, TensorFlow's import); each running job has its expected length less what it has
    had, each waiting job its expected length, and the workers take them longest first on the
    cores (`plan.makespan`)."""

    STARTED = "sweep_started.json"
    JOBS = "job_times.txt"  # `<job> start|end <time> <process id>` lines, appended

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        workers = int(plan.plan_tags(config).get("sweep.workers", 1))
        count = jobs.job_count(config)
        overrides = jobs.job_overrides(config) if count else []
        costs = cost.job_costs(config, overrides) if count else None
        # The cores the jobs share: this machine's, or with SLURM a node each.
        cores = min(workers, plan.cores()) if plan.runs_jobs_here(config) else workers
        started = {"jobs": count, "workers": workers, "costs": costs, "time": time.time(),
                   "start": cost.worker_start(overrides), "launcher": os.getpid(),
                   "cores": cores}
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
            times.write(f"{config.hydra.job.num} {event} {time.time()} {os.getpid()}\n")
        return True

    def line(self, sweep_dir: Path, now: float) -> str:
        sweep = json.loads((sweep_dir / self.STARTED).read_text())
        starts, ends, processes, first = {}, {}, {str(sweep["launcher"])}, set()
        for record in (sweep_dir / self.JOBS).read_text().splitlines():
            job, event, stamp, process = record.split()
            (starts if event == "start" else ends)[job] = float(stamp)
            if event == "start" and process not in processes:  # a worker's first job
                processes.add(process)
                first.add(job)
        line = f"sweep: {len(ends)}"
        line += f"/{sweep['jobs']}" if sweep["jobs"] else ""
        line += f" jobs done in {duration(now - sweep['time'])}"
        if not sweep["jobs"] or len(ends) >= sweep["jobs"]:
            return line
        costs = sweep.get("costs") or [1.0] * sweep["jobs"]
        units = {job: costs[int(job)] + sweep["start"] * (job in first) for job in starts}
        had = core_seconds({job: (start, ends.get(job, now)) for job, start in starts.items()},
                           sweep["cores"])
        per_cost = sum(had[job] / units[job] for job in ends) / len(ends)
        rest = [max(0.0, units[job] * per_cost - had[job]) for job in starts if job not in ends]
        rest += [costs[job] * per_cost for job in range(sweep["jobs"]) if str(job) not in starts]
        left = plan.makespan(rest, sweep["workers"], sweep["cores"])
        return line + f", about {duration(left)} left"


def core_seconds(spans: dict[str, tuple[float, float]], cores: int) -> dict[str, float]:
    """What each job had of the cores over its (start, end) span: at each moment its share,
    a core at most, the cores split evenly among the jobs running (as `plan.makespan` runs
    them), so that jobs timed three to two cores predict the one left alone on a core."""
    marks = sorted({mark for span in spans.values() for mark in span})
    had = dict.fromkeys(spans, 0.0)
    for begin, end in pairwise(marks):
        running = [job for job, (start, stop) in spans.items() if start <= begin and stop >= end]
        for job in running:
            had[job] += (end - begin) * min(1.0, cores / len(running))
    return had
