"""A multirun as one parent MLflow run with its jobs as child runs.

`SweepRun` is a Hydra callback (`hydra.callbacks.tracking` in conf/config.yaml), called after
`src.preflight` has checked every job. In the launching process, before any job starts, it
creates the experiment once (parallel jobs racing to create it collide, and lock a SQLite
store) and starts the parent run - or reopens the one a previous launch of the same sweep
recorded in the sweep dir - tagged with how the jobs run (`sweep.*`, src.sweeps.plan). Jobs,
in whatever process or node runs them, read that record (src.tracking.resume) and tag their
runs `mlflow.parentRunId`. The parent ends FINISHED when every job completed, else FAILED; a sweep
stopped early (Ctrl-C, SIGTERM) also ends KILLED the runs of jobs its workers could not end
themselves (loky kills workers with SIGKILL).

Hydra instantiates callbacks for every command, single runs and rejected configs included, so
this module imports MLflow only once a multirun starts.
"""

import atexit
import logging
import sys
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from src import console
from src.config import to_typed
from src.tracking import store

log = logging.getLogger(__name__)
FAILED_JOBS = "failed_jobs.txt"  # one line per failed job, appended by the job's process


class SweepRun(Callback):
    """Parent run, experiment and outcome of one multirun (see the module docstring)."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        with console.loading():
            import mlflow
            from mlflow import MlflowClient
            from mlflow.entities import RunTag

            from src.sweeps.plan import plan_tags, runs_jobs_here
            from src.tracking import faults, lifecycle, provenance, resume

        cfg = to_typed(config)
        self.local = runs_jobs_here(config)
        self.uri, self.wait = store.tracking_uri(cfg.tracking.uri), cfg.tracking.wait_for_server
        faults.fail_fast_http()
        mlflow.set_tracking_uri(self.uri)
        experiment = lifecycle.experiment_id(cfg.tracking.experiment)
        self.sweep_dir = Path(config.hydra.sweep.dir).resolve()
        overrides = " ".join(config.hydra.overrides.task)
        tags = {**provenance.git_tags(), "hydra.overrides": overrides,
                "hydra.sweep_dir": config.hydra.sweep.dir,  # as its jobs' runs show it
                **plan_tags(config)}
        client = MlflowClient(self.uri)
        self.run_id = self._reopen(experiment) or client.create_run(
            experiment, run_name=f"sweep {overrides}"[:250]).info.run_id
        # A reopened parent takes this launch's values; one request for all of them.
        client.log_batch(self.run_id, tags=[RunTag(key, value) for key, value in tags.items()])
        resume.record_parent_run(self.sweep_dir, self.run_id)
        (self.sweep_dir / FAILED_JOBS).unlink(missing_ok=True)
        where = f": {store.ui_link(self.uri, experiment)}" if store.is_server(self.uri) else ""
        log.info(f"Sweep parent run {self.run_id} in experiment {cfg.tracking.experiment}{where}")
        # Hydra skips on_multirun_end when a job raises (the sweeper re-raises its error), and
        # SIGTERM would end the process without cleanup: both must still end the parent.
        atexit.register(self._end, completed=False)
        faults.sigterm_raises()

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        """Runs in the job's process: records a failed job where the launching process looks."""
        hydra = config.hydra
        if hydra.mode != RunMode.MULTIRUN or job_return.status != JobStatus.FAILED:
            return
        line = (f"#{hydra.job.num} ({' '.join(hydra.overrides.task)}); "
                f"output dir: {hydra.runtime.output_dir}")
        log.error(f"Sweep job failed: {line}")
        with open(Path(hydra.sweep.dir) / FAILED_JOBS, "a") as record:
            record.write(line + "\n")

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self._end(completed=True)

    def _reopen(self, experiment: str) -> str | None:
        """The parent a previous launch of this sweep recorded, set RUNNING again."""
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        from src.tracking import resume

        previous = resume.parent_run_id(self.sweep_dir)
        client = MlflowClient(self.uri)
        try:
            found = previous and client.get_run(previous)
        except MlflowException as exc:  # recorded against another store
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            return None
        if not found or found.info.experiment_id != experiment:
            return None
        client.update_run(previous, status="RUNNING")
        return previous

    def _end(self, completed: bool) -> None:
        from mlflow import MlflowClient

        from src.tracking import faults

        atexit.unregister(self._end)
        path = self.sweep_dir / FAILED_JOBS
        failed = path.read_text().splitlines() if path.exists() else []
        status = "FINISHED" if completed and not failed else "FAILED"
        if failed:
            print(f"Sweep {self.sweep_dir} FAILED; failed jobs:", *failed, sep="\n  ",
                  file=sys.stderr)
        elif not completed:
            print(f"Sweep {self.sweep_dir} stopped before all its jobs ran", file=sys.stderr)
        client = MlflowClient(self.uri)
        if not completed and self.local:
            faults.patiently(lambda: self._end_orphans(client), self.wait)
        faults.patiently(lambda: client.set_terminated(self.run_id, status), self.wait)

    def _end_orphans(self, client) -> None:
        """End KILLED the child runs still RUNNING: their jobs' processes are gone."""
        experiments = [e.experiment_id for e in client.search_experiments()]
        orphans = client.search_runs(experiments, f"tags.`mlflow.parentRunId` = '{self.run_id}' "
                                                  "and attributes.status = 'RUNNING'")
        for run in orphans:
            client.set_terminated(run.info.run_id, "KILLED")
        if orphans:
            names = ", ".join(run.info.run_name for run in orphans)
            print(f"Ended KILLED the runs of jobs stopped with the sweep: {names}",
                  file=sys.stderr)
