"""A training run's life in MLflow: its experiment, its start (or resumption), its params, and
its end: FINISHED, FAILED when the body raises, KILLED on SIGTERM or Ctrl-C or when it stopped
early on purpose (a study pruned it). Never RUNNING."""

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Optional

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from src.config import Config
from src.errors import StoppedEarly
from src.tracking import faults, provenance, store
from src.tracking.resume import JobDir

# What the experiment is for, as MLflow records it (the kind its UI shows and lets one change).
# MLflow 3.17's UI picks its view from its sidebar switch instead: see store.ui_link.
KIND_TAG, KIND = "mlflow.experimentKind", "custom_model_development"


def experiment_id(name: str) -> str:
    """Look the experiment up by name, creating it if missing. A sweep creates it before its
    jobs start (src.tracking.sweep); the second try covers single runs racing to create it.
    An experiment without a kind gets ours; a kind someone chose in the UI is kept."""
    try:
        experiment = mlflow.set_experiment(name)
    except MlflowException:
        experiment = mlflow.set_experiment(name)
    if KIND_TAG not in experiment.tags:
        MlflowClient().set_experiment_tag(experiment.experiment_id, KIND_TAG, KIND)
    return experiment.experiment_id


@contextmanager
def training_run(
    cfg: Config, uri: str, config_hash: str = "", job: Optional[JobDir] = None
) -> Iterator[str]:
    """The MLflow run of one training job, as the active run; yields its id.

    Logs the config and library versions as params. With a job dir, the run an interrupted
    launch of the same config left there is resumed (same run id, RUNNING again) and its id
    is recorded there for the next launch.
    """
    faults.fail_fast_http()
    mlflow.set_tracking_uri(uri)
    wait = cfg.tracking.wait_for_server  # a store restarting as the run starts: wait for it
    experiment = faults.patiently(lambda: experiment_id(cfg.tracking.experiment), wait)
    resume = faults.patiently(lambda: job.interrupted_run(config_hash, experiment), wait) \
        if job else None
    tags = {**provenance.run_tags(), **({"config_hash": config_hash} if config_hash else {}),
            **({"rerun_of": cfg.tracking.rerun_of} if cfg.tracking.rerun_of else {})}
    # MLflow's monitor samples in a thread, ends with the run, and on resume continues its steps.
    mlflow.set_system_metrics_sampling_interval(cfg.tracking.system_metrics_interval)
    active = faults.patiently(lambda: mlflow.start_run(
        run_id=resume, experiment_id=experiment, run_name=provenance.run_name(cfg), tags=tags,
        log_system_metrics=cfg.tracking.system_metrics,
    ), wait)
    run_id = active.info.run_id
    if resume:
        print(f"Resuming MLflow run {run_id}: an earlier launch of this config was interrupted")
    else:
        where = store.ui_link(uri, experiment, run_id) if store.is_server(uri) else uri
        print(f"{provenance.run_name(cfg)}: MLflow run {run_id} in experiment "
              f"{cfg.tracking.experiment!r} at {where}")
    if job:
        job.remember(run_id, config_hash)
    status, done = "FAILED", False
    own_handler = faults.sigterm_raises()
    try:
        log_params({**provenance.flat_params(cfg), **provenance.library_versions()}, wait)
        yield run_id
        status = done = "FINISHED"
    except StoppedEarly as stop:
        tags = stop.tags
        faults.patiently(lambda: mlflow.set_tags(tags), wait)
        status, done = "KILLED", True
        raise
    except (SystemExit, KeyboardInterrupt):  # SIGTERM, Ctrl-C, submitit requeueing the job
        status = "KILLED"
        raise
    finally:
        if own_handler:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        faults.patiently(lambda: _end(run_id, status), wait)
        if job and done:
            job.forget()


def _end(run_id: str, status: str) -> None:
    """mlflow.end_run forgets the active run before its request: a retry ends it by id."""
    if mlflow.active_run():
        mlflow.end_run(status)
    else:
        MlflowClient().set_terminated(run_id, status)


def log_params(params: dict[str, Any], wait: float = 0.0) -> None:
    """Log params the active run lacks; a resumed run keeps its first launch's values (MLflow
    refuses to change a param, and the device or a library version may differ on re-launch).
    Waits up to `wait` s for a store that is unreachable."""
    run_id = mlflow.active_run().info.run_id

    def log() -> None:
        logged = MlflowClient().get_run(run_id).data.params
        mlflow.log_params({k: v for k, v in params.items() if k not in logged})

    faults.patiently(log, wait)


def log_metrics(metrics: dict[str, float], wait: float) -> None:
    """Log to the active run, waiting up to `wait` s for a tracking server that went away."""
    faults.patiently(lambda: mlflow.log_metrics(metrics), wait)
