"""MLflow bookkeeping: where runs go, what every run records, and how a run ends."""

import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

import keras
import mlflow
import numpy as np
import requests
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf
from sklearn.metrics import confusion_matrix

from src import plots
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


def run_tags() -> dict[str, str]:
    """Provenance: the code's commit and the Hydra job this run belongs to."""
    commit = _git("rev-parse", "HEAD") or "unknown"
    tags = {
        "git.commit": commit,
        "mlflow.source.git.commit": commit,  # shown as the run's source version in the UI
        "git.dirty": str(bool(_git("status", "--porcelain", "--untracked-files=no"))).lower(),
    }
    if HydraConfig.initialized():
        hydra = HydraConfig.get()
        tags["hydra.overrides"] = " ".join(hydra.overrides.task)
        tags["hydra.output_dir"] = hydra.runtime.output_dir
        if hydra.mode.name == "MULTIRUN":
            tags["hydra.sweep_dir"] = hydra.sweep.dir
            tags["hydra.job_num"] = str(hydra.job.num)
    return tags


@contextmanager
def run(cfg: Config, uri: str, extra_params: dict[str, Any]) -> Iterator[mlflow.ActiveRun]:
    """An MLflow run that ends FINISHED, or FAILED if the body raises."""
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment(cfg.tracking.experiment)
    with mlflow.start_run(run_name=run_name(cfg), tags=run_tags()) as active:
        mlflow.log_params({**flat_params(cfg), **library_versions(), **extra_params})
        yield active


class EpochMetrics(keras.callbacks.Callback):
    """Logs every epoch's metrics with step = epoch number, 1-based as Keras prints it.

    Not mlflow.keras.MlflowCallback: that one logs 0-based steps and logs evaluate()'s
    metrics again without a step.
    """

    def on_epoch_end(self, epoch, logs=None):
        mlflow.log_metrics({k: float(v) for k, v in (logs or {}).items()}, step=epoch + 1)


def model_summary(model: keras.Model) -> str:
    lines: list[str] = []
    model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line))
    return "\n".join(lines)


def log_results(
    model: keras.Model,
    data: Splits,
    history: dict[str, list[float]],
    result: Evaluation,
    log_model: bool,
) -> None:
    """Test metrics plus the artifacts the notebooks showed, for the run's UI page."""
    mlflow.log_metrics({"test_loss": result.test_loss, "test_accuracy": result.test_accuracy})
    names = data.class_names
    cm = confusion_matrix(data.y_test, result.y_pred, labels=range(len(names)))
    header = "true\\predicted," + ",".join(names)
    rows = [f"{name}," + ",".join(map(str, row)) for name, row in zip(names, cm)]
    mlflow.log_text("\n".join([header, *rows]) + "\n", "confusion_matrix.csv")
    figures = {
        "plots/confusion_matrix.png": plots.confusion(cm, names),
        "plots/curves.png": plots.curves(history),
        "plots/test_predictions.png": plots.predictions(
            data.x_test[:25], data.y_test[:25], result.y_pred[:25], names
        ),
        **{f"plots/{name}": fig for name, fig in plots.split_previews(data).items()},
    }
    for path, figure in figures.items():
        mlflow.log_figure(figure, path)
        plots.close(figure)
    mlflow.log_text(model_summary(model), "model_summary.txt")
    if HydraConfig.initialized():
        mlflow.log_artifacts(str(Path(HydraConfig.get().runtime.output_dir) / ".hydra"), ".hydra")
    if log_model:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.keras"
            model.save(path)
            mlflow.log_artifact(str(path))


def parameter_counts(model: keras.Model) -> dict[str, int]:
    trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    return {"model.params": model.count_params(), "model.trainable_params": trainable}
