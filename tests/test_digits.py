"""scikit-learn's 8x8 digits end to end: the notebook's three-way sweep on the ResNet, to
FINISHED runs that record the dataset's own shape, classes and sizes, drawn in gray."""

import pytest

from tests.shapes import colour_share, confusion_header, signature_shape, sweep_runs

pytestmark = pytest.mark.slow


def test_digits_sweep_the_resnet_on_8x8_grayscale_images(tmp_path, sqlite_uri):
    client, runs = sweep_runs(tmp_path, sqlite_uri, "digits-resnet", "dataset=digits")
    for run in runs:
        assert signature_shape(run) == (-1, 8, 8, 1)
        assert run.data.params["data.n_train"] == "1149" and run.data.params["data.n_test"] == "360"
        assert confusion_header(client, run, tmp_path) == "true\\predicted," + ",".join(
            str(d) for d in range(10))
    assert colour_share(client, runs[0], tmp_path) == 0.0  # drawn in gray
