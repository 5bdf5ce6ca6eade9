"""Tracking under load: N simulated training jobs logging at once, no TensorFlow.

    python -m benchmarks.tracking_load --jobs 32                 # the default SQLite store
    python -m benchmarks.tracking_load --jobs 32 --server        # scripts/tracking-server.sh
    python -m benchmarks.tracking_load --jobs 32 --server --restart-at 15   # MLflow and
                                                                 # PostgreSQL restarted 15 s in

Each job is a thread making the calls a training run makes, through the project's own code:
`lifecycle.training_run` (its experiment, config_hash, params, resume record in its job dir,
its end), `datasets.log_inputs`, `EpochMetrics` (per-epoch metrics, buffered in memory and in
the job dir while the store is unreachable, replayed once it answers), one small artifact and
the final metrics through `faults.patiently`. Jobs are spread over `--processes` processes
(threads, not one process each: a process that loads MLflow holds ~0.5 GB, and 128 of them
would not fit beside the server). Keras runs on its NumPy backend: EpochMetrics is a Keras
callback, and nothing here trains.

Reports metric points per second, p50/p99 seconds per logging call, the jobs that failed,
and what the store holds afterwards: every run FINISHED, every point present exactly once.
"""

import argparse
import contextlib
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from benchmarks import tracking_stack

# In the job processes, before anything imports Keras (not in this one: whoever imports this
# module, a test for one, keeps its own backend for the processes it starts).
WORKER_ENV = {"KERAS_BACKEND": "numpy"}

KEYS = ("loss", "accuracy", "val_loss", "val_accuracy", "epoch_seconds")  # what fit logs


@dataclasses.dataclass
class Load:
    jobs: int = 8
    epochs: int = 10
    epoch_seconds: float = 1.0  # between one job's epochs: the logging rate
    processes: int = 8
    wait: float = 600.0  # tracking.wait_for_server

    @property
    def process_count(self) -> int:
        return max(1, min(self.processes, self.jobs))


@dataclasses.dataclass
class JobResult:
    index: int
    run_id: str = ""
    error: str = ""
    calls: list = dataclasses.field(default_factory=list)  # (kind, seconds)
    started: float = 0.0
    ended: float = 0.0


def simulate(index: int, cfg, parent: str, sweep_dir: Path, load: Load) -> JobResult:
    """One training run's tracking calls, timed, with epoch values that name the job and
    epoch (so a duplicate or a lost point is visible on reading back)."""
    import mlflow
    import numpy as np

    from src.data import Splits
    from src.tracking import datasets, faults, identity, lifecycle
    from src.tracking.epoch_metrics import EpochMetrics
    from src.tracking.resume import JobDir

    result = JobResult(index, started=time.time())

    def timed(kind: str, call):
        began = time.perf_counter()
        value = call()
        result.calls.append((kind, time.perf_counter() - began))
        return value

    images, labels = np.zeros((8, 28, 28, 1), "float32"), np.arange(8) % 2
    splits = Splits(images, labels, images, labels, images, labels, ["0", "1"], "load-test")
    job = JobDir(sweep_dir / str(index))
    try:
        began = time.perf_counter()
        with lifecycle.training_run(cfg, cfg.tracking.uri, identity.config_hash(cfg), job) as rid:
            result.calls.append(("start", time.perf_counter() - began))
            result.run_id = rid
            timed("tag", lambda: faults.patiently(
                lambda: mlflow.set_tag("mlflow.parentRunId", parent), load.wait))
            found = datasets.datasets(splits, cfg.dataset)
            timed("inputs", lambda: datasets.log_inputs(found, load.wait))
            epochs = EpochMetrics(rid, load.wait, job)
            for epoch in range(load.epochs):
                time.sleep(load.epoch_seconds)
                logs = {key: index + (epoch + 1) / 1000 + k / 1e6 for k, key in enumerate(KEYS)}
                timed("epoch", lambda e=epoch, v=logs: epochs.on_epoch_end(e, v))
            timed("train_end", epochs.on_train_end)
            timed("artifact", lambda: faults.patiently(
                lambda: mlflow.log_text(f"job {index}\n", "load.txt"), load.wait))
            timed("final", lambda: lifecycle.log_metrics({"test_accuracy": index / 1000},
                                                         load.wait))
            began = time.perf_counter()
        result.calls.append(("end", time.perf_counter() - began))
    except Exception as err:  # noqa: BLE001 - a job that fails is counted, not fatal here
        result.error = f"{type(err).__name__}: {err}".splitlines()[0][:300]
    result.ended = time.time()
    return result


def process_jobs(indices: list[int], cfg, parent: str, sweep_dir: str, load: Load,
                 log: str) -> list[JobResult]:
    """A worker process: its jobs as threads; what they print goes to `log`."""
    with (open(log, "a") as out, contextlib.redirect_stdout(out), contextlib.redirect_stderr(out),
          ThreadPoolExecutor(len(indices)) as pool):
        runs = [pool.submit(simulate, i, dataclasses.replace(cfg, seed=i), parent,
                            Path(sweep_dir), load) for i in indices]
        return [run.result() for run in runs]


def run(load: Load, uri: str, workdir: Path, restart=None) -> dict:
    """The load against `uri`; `restart = (S, restart())`, if given, restarts the store S
    seconds after half the jobs have started their runs."""
    import mlflow

    from src.tracking import lifecycle

    cfg = tracking_stack.config(uri, f"load-{load.jobs}-{int(time.time())}", load.wait)
    mlflow.set_tracking_uri(uri)
    client = mlflow.MlflowClient(uri)
    experiment = lifecycle.experiment_id(cfg.tracking.experiment)
    parent = client.create_run(experiment, run_name=f"load-{load.jobs}").info.run_id
    processes = load.process_count
    chunks = [list(range(load.jobs))[p::processes] for p in range(processes)]
    restarted: dict = {}
    if restart is not None:
        timer = threading.Thread(target=lambda: restarted.update(
            restart_when_started(workdir / "jobs", load.jobs // 2, *restart)))
        timer.start()
    with ProcessPoolExecutor(processes, mp_context=get_context("spawn"),
                             initializer=set_environment, initargs=(WORKER_ENV,)) as pool:
        futures = [pool.submit(process_jobs, chunk, cfg, parent, str(workdir / "jobs"), load,
                               str(workdir / f"process-{p}.log"))
                   for p, chunk in enumerate(chunks)]
        results = [job for future in futures for job in future.result()]
    if restart is not None:
        timer.join()
    client.set_terminated(parent, "FINISHED")
    logs = "".join(path.read_text() for path in workdir.glob("process-*.log"))
    return {**summary(load, results), **verify(client, parent, load),
            "retries": logs.count("unreachable"), "locked": logs.count("database is locked"),
            "restart": restarted}


def set_environment(variables: dict[str, str]) -> None:
    os.environ.update(variables)


def restart_when_started(jobs_dir: Path, started: int, after: float, restart) -> dict:
    """`restart()` `after` s once `started` jobs have recorded their runs in their job dirs."""
    while len(list(jobs_dir.glob("*/mlflow_run.json"))) < max(1, started):
        time.sleep(0.2)
    time.sleep(after)
    return restart()


def quantile(values: list[float], percent: int) -> float:
    """The `percent`-th percentile; a single value is its own."""
    if len(values) < 2:
        return (values or [0.0])[0]
    return statistics.quantiles(values, n=100)[percent - 1]


def summary(load: Load, results: list[JobResult]) -> dict:
    calls = [seconds for job in results for _, seconds in job.calls]
    epochs = [seconds for job in results for kind, seconds in job.calls if kind == "epoch"]
    began = min(job.started for job in results)  # the first job's start: imports not counted
    ended = max(job.ended for job in results)
    return {"jobs": load.jobs, "processes": load.process_count,
            "epochs": load.epochs, "epoch_seconds": load.epoch_seconds,
            "wall_seconds": round(ended - began, 1),
            "points_per_second": round(load.jobs * load.epochs * len(KEYS) / (ended - began), 1),
            "p50_call_seconds": round(quantile(calls, 50), 4),
            "p99_call_seconds": round(quantile(calls, 99), 4),
            "p50_epoch_seconds": round(quantile(epochs, 50), 4),
            "p99_epoch_seconds": round(quantile(epochs, 99), 4),
            "failed_jobs": [f"{job.index}: {job.error}" for job in results if job.error]}


def verify(client, parent: str, load: Load) -> dict:
    """What the store holds: runs under the parent, FINISHED, every point once."""
    experiment = client.get_run(parent).info.experiment_id
    runs = client.search_runs([experiment], f"tags.`mlflow.parentRunId` = '{parent}'",
                              max_results=load.jobs + 100)
    lost = duplicated = 0
    for r in runs:
        index = int(r.data.params["seed"])
        for k, key in enumerate(KEYS):
            points = [(m.step, m.value) for m in client.get_metric_history(r.info.run_id, key)]
            expected = {(e, index + e / 1000 + k / 1e6) for e in range(1, load.epochs + 1)}
            lost += len({(s, round(v, 9)) for s, v in points} ^ {(s, round(v, 9))
                                                               for s, v in expected})
            duplicated += len(points) - len({s for s, _ in points})
    return {"runs": len(runs), "finished": sum(r.info.status == "FINISHED" for r in runs),
            "points_lost_or_wrong": lost, "points_duplicated": duplicated,
            "all_there_once": len(runs) == load.jobs and lost == duplicated == 0
            and all(r.info.status == "FINISHED" for r in runs)}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, default=8)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--epoch-seconds", type=float, default=1.0)
    p.add_argument("--processes", type=int, default=8)
    p.add_argument("--server", action="store_true", help="the PostgreSQL-backed server")
    p.add_argument("--restart-at", type=float, help="restart the server this many s in")
    p.add_argument("--out", type=Path, help="write the result as JSON here too")
    args = p.parse_args(argv)
    load = Load(args.jobs, args.epochs, args.epoch_seconds, args.processes)
    with tempfile.TemporaryDirectory(prefix="tracking-load-") as tmp:
        workdir = Path(tmp)
        workdir.chmod(0o755)  # the PostgreSQL cluster's user must reach its state dir
        with (tracking_stack.server(workdir) if args.server else
              contextlib.nullcontext(tracking_stack.Stack(f"sqlite:///{workdir / 'mlflow.db'}"))
              ) as stack:
            restart = (args.restart_at, stack.restart) if args.restart_at else None
            result = {"store": "server" if args.server else "sqlite", **stack.settings,
                      **run(load, stack.uri, workdir, restart)}
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    sys.exit(0 if main()["all_there_once"] else 1)
