"""After each job of a multirun: `sweep: 2/6 jobs done in 3 min 10 s, about 6 min left`."""

import json
import time
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
    (`src.sweeps.cost`) and its start in the sweep dir; each job, in whatever process or node
    runs it, records its own start and end there and prints the count. The time left: the jobs
    done give the seconds per unit of cost; each running job has its expected length less what
    it has had, each waiting job its expected length, and the workers take them longest first
    (`plan.makespan`)."""

    STARTED = "sweep_started.json"
    JOBS = "job_times.txt"  # `<job> start <time>` and `<job> end <time>` lines, appended

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        workers = int(plan.plan_tags(config).get("sweep.workers", 1))
        count = jobs.job_count(config)
        costs = cost.job_costs(config, jobs.job_overrides(config)) if count else None
        started = {"jobs": count, "workers": workers, "costs": costs, "time": time.time()}
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
        left = plan.makespan(rest, sweep["workers"], sweep["workers"])
        return line + f", about {duration(left)} left"
