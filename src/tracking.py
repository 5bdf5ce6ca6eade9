"""MLflow bookkeeping: where runs go, what every run records, and how a run ends."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any, Optional

import keras
import mlflow
import numpy as np
import requests
from hydra.core.hydra_config import HydraConfig
from mlflow import MlflowClient
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException
from omegaconf import OmegaConf
from sklearn.metrics import confusion_matrix

from src import faults, plots, relaunch
from src.config import Config, TrackingConfig
from src.data import Splits
from src.trainer import Evaluation

PROJECT_ROOT = Path(__file__).resolve().parents[1]
LIBRARIES = ("tensorflow", "keras", "jax", "mlflow", "hydra-core", "numpy", "scikit-learn")


class TrackingError(RuntimeError):
    """The tracking store cannot be used; raised before any training starts."""


def tracking_uri(cfg: TrackingConfig) -> str:
    """`tracking.uri`, else $MLFLOW_TRACKING_URI, else a SQLite file in the launch directory."""
    uri = cfg.uri or os.environ.get("MLFLOW_TRACKING_URI")
    return uri or f"sqlite:///{Path.cwd() / 'mlflow.db'}"


def check_reachable(uri: str, timeout: float = 5.0) -> None:
    """Fail fast on a dead server instead of MLflow's minutes of retries mid-run."""
    if not uri.startswith(("http://", "https://")):
        return
    try:
        requests.get(f"{uri.rstrip('/')}/health", timeout=timeout).raise_for_status()
    except requests.RequestException as exc:
        raise TrackingError(
            f"MLflow tracking server {uri} is unreachable ({type(exc).__name__}). Start it "
            f"(`mlflow server --host 127.0.0.1 --port 5000`, or the stack in the README), "
            f"or drop tracking.uri / MLFLOW_TRACKING_URI to log to the local sqlite:///mlflow.db."
        ) from exc


def run_name(cfg: Config) -> str:
    """What the UI's run list shows, e.g. `mnist-cnn-dropout-s0`."""
    return f"{cfg.dataset.name}-{cfg.model.name}-{cfg.reg.name}-s{cfg.seed}"


def flat_params(cfg: Config) -> dict[str, Any]:
    """The resolved config as `group.key` params; the tracking section is bookkeeping, not a param."""
    tree = OmegaConf.to_container(OmegaConf.structured(cfg), resolve=True, enum_to_str=True)
    tree.pop("tracking")
    flat: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}{key}.")
        else:
            flat[prefix[:-1]] = node

    walk(tree, "")
    return flat


def library_versions() -> dict[str, str]:
    versions = {}
    for name in LIBRARIES:
        try:
            versions[f"version.{name}"] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _git(*args: str) -> str:
    out = subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else ""


def git_tags() -> dict[str, str]:
    """The code's commit, and whether uncommitted changes ran with it."""
    commit = _git("rev-parse", "HEAD") or "unknown"
    return {
        "git.commit": commit,
        "mlflow.source.git.commit": commit,  # shown as the run's source version in the UI
        "git.dirty": str(bool(_git("status", "--porcelain", "--untracked-files=no"))).lower(),
    }


def run_tags() -> dict[str, str]:
    """Provenance: the code's commit and the Hydra job (and sweep) this run belongs to."""
    tags = git_tags()
    if HydraConfig.initialized():
        hydra = HydraConfig.get()
        tags["hydra.overrides"] = " ".join(hydra.overrides.task)
        tags["hydra.output_dir"] = hydra.runtime.output_dir
        if hydra.mode.name == "MULTIRUN":
            tags["hydra.sweep_dir"] = hydra.sweep.dir
            tags["hydra.job_num"] = str(hydra.job.num)
            if parent := relaunch.parent_run_id(Path(hydra.sweep.dir)):
                tags["mlflow.parentRunId"] = parent  # nests the run under its sweep in the UI
    return tags


def experiment_id(name: str) -> str:
    """Look the experiment up by name, creating it if missing. A sweep creates it before its
    jobs start (src.sweep); the second try covers single runs racing to create it."""
    try:
        return mlflow.set_experiment(name).experiment_id
    except MlflowException:
        return mlflow.set_experiment(name).experiment_id


@contextmanager
def run(
    cfg: Config, uri: str, key: str = "", job: Optional[relaunch.JobDir] = None
) -> Iterator[mlflow.ActiveRun]:
    """An MLflow run that ends FINISHED, FAILED if the body raises, KILLED on SIGTERM/Ctrl-C.

    With a job dir, the run an interrupted launch of the same config left there is resumed
    (same run id, RUNNING again) and its id is recorded there for the next launch.
    """
    faults.fail_fast_http()
    mlflow.set_tracking_uri(uri)
    experiment = experiment_id(cfg.tracking.experiment)
    resume = job.interrupted_run(key, experiment) if job else None
    tags = {**run_tags(), **({"config_hash": key} if key else {})}
    active = mlflow.start_run(
        run_id=resume, experiment_id=experiment, run_name=run_name(cfg), tags=tags
    )
    run_id = active.info.run_id
    if resume:
        print(f"Resuming MLflow run {run_id}: an earlier launch of this config was interrupted")
    if job:
        job.remember(run_id, key)
    status = "FAILED"
    own_handler = faults.sigterm_raises()
    try:
        log_params({**flat_params(cfg), **library_versions()})
        yield active
        status = "FINISHED"
    except (SystemExit, KeyboardInterrupt):  # SIGTERM, Ctrl-C, submitit requeueing the job
        status = "KILLED"
        raise
    finally:
        if own_handler:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        faults.patiently(lambda: _end(run_id, status), cfg.tracking.wait_for_server)
    if job:
        job.forget()


def _end(run_id: str, status: str) -> None:
    """mlflow.end_run forgets the active run before its request: a retry ends it by id."""
    if mlflow.active_run():
        mlflow.end_run(status)
    else:
        MlflowClient().set_terminated(run_id, status)


def log_params(params: dict[str, Any]) -> None:
    """Log params the run lacks; a resumed run keeps its first launch's values (MLflow refuses
    to change a param, and the device or a library version may differ on the re-launch)."""
    run_id = mlflow.active_run().info.run_id
    logged = MlflowClient().get_run(run_id).data.params
    mlflow.log_params({k: v for k, v in params.items() if k not in logged})


class EpochMetrics(keras.callbacks.Callback):
    """Logs every epoch's metrics with step = epoch number, 1-based as Keras prints it.

    Not mlflow.keras.MlflowCallback: that one logs 0-based steps, logs evaluate()'s metrics
    again without a step, and stalls or fails when the server goes down. Here an epoch that
    cannot be sent is buffered (in memory and in the job dir, which survives a kill) and
    sent with a later one; the end of training waits up to `wait` s for the server. A resumed
    run's epochs are not logged twice. `history`: all epochs, Keras History format.
    """

    def __init__(self, run_id: str, wait: float, job: Optional[relaunch.JobDir] = None):
        super().__init__()
        self.run_id, self.wait, self.job = run_id, wait, job
        self.client = MlflowClient()
        self.values: dict[str, dict[int, float]] = {}
        for key in self.client.get_run(run_id).data.metrics:
            for point in self.client.get_metric_history(run_id, key):
                self.values.setdefault(key, {})[point.step] = point.value
        self.pending: list[Metric] = []
        self._buffer(job.unsent_metrics() if job else [])

    @property
    def history(self) -> dict[str, list[float]]:
        return {key: [v for _, v in sorted(steps.items())] for key, steps in self.values.items()}

    def on_epoch_end(self, epoch, logs=None):
        step = epoch + 1
        if any(step in steps for steps in self.values.values()):
            print(f"Epoch {step} is already in run {self.run_id}; its first values are kept")
            return
        stamp = int(time.time() * 1000)
        self._buffer([Metric(k, float(v), stamp, step) for k, v in (logs or {}).items()])
        try:
            self._send()
        except (MlflowException, requests.RequestException) as exc:
            if not faults.transient(exc):
                raise
            steps = sorted({m.step for m in self.pending})
            print(f"Tracking server unreachable ({type(exc).__name__}): epochs {steps} "
                  "buffered, sent once it answers", file=sys.stderr)

    def on_train_end(self, logs=None):
        faults.patiently(self._send, self.wait)

    def _buffer(self, metrics: list[Metric]) -> None:
        for m in metrics:
            self.values.setdefault(m.key, {})[m.step] = m.value
        self.pending += metrics
        self._save_pending()

    def _send(self) -> None:
        while self.pending:
            batch = self.pending[:1000]  # MLflow's per-request limit
            self.client.log_batch(self.run_id, metrics=batch)
            self.pending = self.pending[len(batch):]
            self._save_pending()

    def _save_pending(self) -> None:
        if self.job:
            self.job.keep_unsent_metrics(self.pending)


def model_summary(model: keras.Model) -> str:
    lines: list[str] = []
    model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line))
    return "\n".join(lines)


def log_results(
    model: keras.Model,
    data: Splits,
    history: dict[str, list[float]],
    result: Evaluation,
    cfg: TrackingConfig,
) -> None:
    """Test metrics plus the artifacts the notebooks showed, for the run's UI page.

    Everything is written locally first and uploaded in one call, so a short server outage
    costs a retry of that call (re-uploading is harmless; metrics go last, logged once).
    """
    names = data.class_names
    cm = confusion_matrix(data.y_test, result.y_pred, labels=range(len(names)))
    header = "true\\predicted," + ",".join(names)
    rows = [f"{name}," + ",".join(map(str, row)) for name, row in zip(names, cm)]
    figures = {
        "plots/confusion_matrix.png": plots.confusion(cm, names),
        "plots/curves.png": plots.curves(history),
        "plots/test_predictions.png": plots.predictions(
            data.x_test[:25], data.y_test[:25], result.y_pred[:25], names
        ),
        **{f"plots/{name}": fig for name, fig in plots.split_previews(data).items()},
    }
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        (out / "plots").mkdir()
        (out / "confusion_matrix.csv").write_text("\n".join([header, *rows]) + "\n")
        for path, figure in figures.items():
            figure.savefig(out / path)
            plots.close(figure)
        (out / "model_summary.txt").write_text(model_summary(model))
        if HydraConfig.initialized():
            shutil.copytree(Path(HydraConfig.get().runtime.output_dir) / ".hydra", out / ".hydra")
        if cfg.log_model:
            model.save(out / "model.keras")
        faults.patiently(lambda: mlflow.log_artifacts(tmp), cfg.wait_for_server)
    metrics = {"test_loss": result.test_loss, "test_accuracy": result.test_accuracy}
    faults.patiently(lambda: mlflow.log_metrics(metrics), cfg.wait_for_server)


def parameter_counts(model: keras.Model) -> dict[str, int]:
    trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    return {"model.params": model.count_params(), "model.trainable_params": trainable}
