"""The whole training command runs on Keras' JAX backend with no TensorFlow installed, as on a
GPU host that installed JAX alone."""

import os

import pytest
from mlflow import MlflowClient

from tests.conftest import ROOT, needs_data, run_cli

pytest.importorskip("jax", reason="install the `jax` extra: pip install -e '.[jax]'")


@pytest.mark.slow
@needs_data
def test_a_tracked_run_trains_on_jax_with_tensorflow_unimportable(tmp_path):
    blocked = tmp_path / "blocked" / "tensorflow"
    blocked.mkdir(parents=True)
    (blocked / "__init__.py").write_text("raise ImportError('tensorflow is blocked by this test')")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = run_cli("src.train", "trainer.epochs=2", "trainer.batch_size=64",
                     "dataset.train_limit=256", "dataset.val_size=500", cwd=tmp_path,
                     KERAS_BACKEND="jax", MLFLOW_TRACKING_URI=uri,
                     PYTHONPATH=f"{blocked.parent}{os.pathsep}{ROOT}")
    assert result.returncode == 0, result.stderr[-3000:]
    client = MlflowClient(uri)
    [run] = client.search_runs([client.get_experiment_by_name("mnist-cnn").experiment_id])
    assert run.info.status == "FINISHED"
    assert "keras backend jax" in run.data.params["device"]
    assert "version.jax" in run.data.params and "version.tensorflow" not in run.data.params
    assert [m.step for m in client.get_metric_history(run.info.run_id, "val_accuracy")] == [1, 2]
