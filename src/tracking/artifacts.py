"""What the end of a run logs: test metrics and the notebooks' figures, for the run's UI page."""

import hashlib
import io
import shutil
import tempfile
import time
from pathlib import Path
from typing import Optional

import keras
import mlflow
import numpy as np
from hydra.core.hydra_config import HydraConfig
from mlflow.data.dataset import Dataset
from sklearn.metrics import confusion_matrix

from src import plots
from src.config import TrackingConfig
from src.data import Splits
from src.tracking import faults, logged_model, predictions
from src.trainer import Evaluation


def model_summary(model: keras.Model) -> str:
    lines: list[str] = []
    model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line))
    return "\n".join(lines)


def confusion_csv(cm, class_names: list[str]) -> str:
    """Rows true, columns predicted, each headed by its class name."""
    header = "true\\predicted," + ",".join(class_names)
    rows = [f"{name}," + ",".join(map(str, row)) for name, row in zip(class_names, cm, strict=True)]
    return "\n".join([header, *rows]) + "\n"


_previews: dict[str, dict[str, bytes]] = {}


def preview_pngs(data: Splits) -> dict[str, bytes]:
    """The split previews as PNG files' bytes, drawn once a process for what they show: a sweep
    worker's runs on one dataset log the same pictures."""
    n = plots.GRID ** 2
    content = hashlib.sha256("\n".join(data.class_names).encode())
    for part in (data.x_train, data.y_train, data.x_test, data.y_test):
        content.update(np.ascontiguousarray(part[:n]).tobytes())
    if (shown := content.hexdigest()) not in _previews:
        pngs = {}
        for name, figure in plots.split_previews(data, n).items():
            png = io.BytesIO()
            figure.savefig(png, format="png")
            plots.close(figure)
            pngs[name] = png.getvalue()
        _previews[shown] = pngs
    return _previews[shown]


def log_results(
    model: keras.Model,
    data: Splits,
    history: dict[str, list[float]],
    result: Evaluation,
    cfg: TrackingConfig,
    test_set: Optional[Dataset] = None,
) -> None:
    """Test metrics plus the artifacts the notebooks showed, into the active run.

    Everything is written locally first and uploaded in one call, so a short server outage
    costs a retry of that call (re-uploading is harmless). Then the model, as an MLflow Model;
    metrics go last, logged once, linked to the model and to the test set they came from.
    """
    names = data.class_names
    cm = confusion_matrix(data.y_test, result.y_pred, labels=range(len(names)))
    figures = {
        "plots/confusion_matrix.png": plots.confusion(cm, names),
        "plots/curves.png": plots.curves(history),
        "plots/test_predictions.png": plots.predictions(
            data.x_test[:25], data.y_test[:25], result.y_pred[:25], names
        ),
    }
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        (out / "plots").mkdir()
        (out / "confusion_matrix.csv").write_text(confusion_csv(cm, names))
        predictions.write(out / predictions.ARTIFACT, data.y_test, result.y_pred,
                          result.probabilities)
        for path, figure in figures.items():
            figure.savefig(out / path)
            plots.close(figure)
        for name, png in preview_pngs(data).items():
            (out / "plots" / name).write_bytes(png)
        (out / "model_summary.txt").write_text(model_summary(model))
        if HydraConfig.initialized():
            shutil.copytree(Path(HydraConfig.get().runtime.output_dir) / ".hydra", out / ".hydra")
        faults.patiently(lambda: mlflow.log_artifacts(tmp), cfg.wait_for_server)
    model_id, metrics = None, {"test_loss": result.test_loss, "test_accuracy": result.test_accuracy}
    if result.plain_accuracy is not None:  # test-time augmentation: what it added
        metrics["test_accuracy_plain"] = result.plain_accuracy
    if cfg.log_model:
        started, epochs = time.monotonic(), len(history.get("loss", []))
        model_id = faults.patiently(lambda: logged_model.log(model, data.x_test, epochs),
                                    cfg.wait_for_server)
        metrics["model_log_seconds"] = time.monotonic() - started  # what the switch saves
    faults.patiently(lambda: mlflow.log_metrics(metrics, model_id=model_id, dataset=test_set),
                     cfg.wait_for_server)
