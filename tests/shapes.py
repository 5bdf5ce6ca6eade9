"""The notebook's three-way sweep on the ResNet for a dataset of another shape, and what its runs
logged: shared by the end-to-end tests of digits and CIFAR-10 (two files, so that test workers
can run them side by side)."""

from pathlib import Path

import matplotlib.image
import mlflow
import numpy as np
from mlflow import MlflowClient

from tests.conftest import run_cli

SWEEP = ("-m", "reg=none,dropout,batchnorm", "model=resnet", "trainer.epochs=1",
         "tracking.system_metrics=false")


def sweep_runs(cwd: Path, uri: str, experiment: str, *overrides: str) -> tuple[MlflowClient, list]:
    result = run_cli("src.train", *SWEEP, *overrides, cwd=cwd, MLFLOW_TRACKING_URI=uri)
    assert result.returncode == 0, result.stderr[-3000:]
    client = MlflowClient(uri)
    mlflow.set_tracking_uri(uri)  # models:/ URIs resolve in the fluent API's store
    found = client.get_experiment_by_name(experiment)
    runs = client.search_runs([found.experiment_id], "tags.`mlflow.parentRunId` LIKE '%'")
    assert sorted(r.data.params["reg.name"] for r in runs) == ["batchnorm", "dropout", "none"]
    assert all(r.info.status == "FINISHED" for r in runs)
    return client, runs


def signature_shape(run) -> tuple:
    [output] = run.outputs.model_outputs
    return mlflow.models.get_model_info(f"models:/{output.model_id}").signature.inputs.inputs[
        0].shape


def colour_share(client: MlflowClient, run, tmp_path: Path) -> float:
    """The share of the training preview's pixels whose red, green and blue differ."""
    path = client.download_artifacts(run.info.run_id, "plots/preview_train.png", str(tmp_path))
    pixels = matplotlib.image.imread(path)[..., :3]
    return float(np.mean(pixels.max(axis=-1) - pixels.min(axis=-1) > 0.1))


def confusion_header(client: MlflowClient, run, tmp_path: Path) -> str:
    path = client.download_artifacts(run.info.run_id, "confusion_matrix.csv", str(tmp_path))
    return Path(path).read_text().splitlines()[0]
