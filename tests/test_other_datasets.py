"""Datasets of other shapes, end to end as a user runs them: scikit-learn's 8x8 digits and a
CIFAR-10 archive (written in the official format) through the notebook's three-way sweep on
the ResNet, to FINISHED runs that record each dataset's own shape, classes and colours."""

from pathlib import Path

import matplotlib.image
import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient

from tests.conftest import run_cli
from tests.datasets import CIFAR_CLASSES, write_cifar_archive

pytestmark = pytest.mark.slow
SWEEP = ("-m", "reg=none,dropout,batchnorm", "model=resnet", "trainer.epochs=1")


def sweep_runs(tmp_path: Path, experiment: str, *overrides: str) -> tuple[MlflowClient, list]:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = run_cli("src.train", *SWEEP, *overrides, cwd=tmp_path, MLFLOW_TRACKING_URI=uri)
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


def test_digits_sweep_the_resnet_on_8x8_grayscale_images(tmp_path):
    client, runs = sweep_runs(tmp_path, "digits-resnet", "dataset=digits")
    for run in runs:
        assert signature_shape(run) == (-1, 8, 8, 1)
        assert run.data.params["data.n_train"] == "1149" and run.data.params["data.n_test"] == "360"
        assert confusion_header(client, run, tmp_path) == "true\\predicted," + ",".join(
            str(d) for d in range(10))
    assert colour_share(client, runs[0], tmp_path) == 0.0  # drawn in gray


def test_a_cifar_archive_sweeps_the_resnet_on_32x32_colour_images(tmp_path):
    sha = write_cifar_archive(tmp_path / "data" / "cifar10", per_batch=40, test=60)
    client, runs = sweep_runs(tmp_path, "cifar10-resnet", "dataset=cifar10",
                              f"dataset.data_dir={tmp_path / 'data'}",
                              f"dataset.loader.sha256={sha}", "dataset.val_size=40")
    for run in runs:
        assert signature_shape(run) == (-1, 32, 32, 3)
        assert run.data.params["data.n_train"] == "160"
        assert confusion_header(client, run, tmp_path) == "true\\predicted," + ",".join(
            CIFAR_CLASSES)
        names = {d.dataset.name for d in run.inputs.dataset_inputs}
        assert names == {"cifar10-train", "cifar10-val", "cifar10-test"}
    assert colour_share(client, runs[0], tmp_path) > 0.2  # drawn in colour
    parent = client.get_run(runs[0].data.tags["mlflow.parentRunId"])
    assert parent.data.tags["sweep.workers"]  # planned from the ResNet's cost on this data
