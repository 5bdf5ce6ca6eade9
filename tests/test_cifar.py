"""A CIFAR-10 archive (written in the official format) end to end: the notebook's three-way
sweep on the ResNet, to FINISHED runs that record 32x32x3 images, CIFAR's class names, and draw
them in colour."""

import pytest

from tests.datasets import CIFAR_CLASSES, write_cifar_archive
from tests.shapes import colour_share, confusion_header, signature_shape, sweep_runs

pytestmark = pytest.mark.slow


def test_a_cifar_archive_sweeps_the_resnet_on_32x32_colour_images(tmp_path, sqlite_uri):
    sha = write_cifar_archive(tmp_path / "data" / "cifar10", per_batch=40, test=60)
    client, runs = sweep_runs(tmp_path, sqlite_uri, "cifar10-resnet", "dataset=cifar10",
                              f"dataset.data_dir={tmp_path / 'data'}",
                              f"dataset.loader.sha256={sha}", "dataset.val_size=40")
    for run in runs:
        assert signature_shape(run) == (-1, 32, 32, 3)
        assert run.data.params["data.n_train"] == "160"
        assert confusion_header(client, run, tmp_path) == "true\\predicted," + ",".join(
            CIFAR_CLASSES)
        names = {d.dataset.name for d in run.inputs.dataset_inputs}
        assert names == {"cifar10-train", "cifar10-val", "cifar10-test"}
    assert colour_share(client, runs[0], tmp_path) > 0.05  # drawn in colour (gray: none)
    parent = client.get_run(runs[0].data.tags["mlflow.parentRunId"])
    assert parent.data.tags["sweep.workers"]  # planned from the ResNet's cost on this data
