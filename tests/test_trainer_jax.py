"""The whole training command runs on Keras' JAX backend with no TensorFlow installed, as on a
GPU host that installed JAX alone."""

import os

import pytest
from mlflow import MlflowClient

from tests.conftest import ROOT, needs_data, run_cli

pytest.importorskip("jax", reason="install the `jax` extra: pip install -e '.[jax]'")


@pytest.mark.slow
@needs_data
def test_a_tracked_run_trains_on_jax_with_tensorflow_unimportable(tmp_path, sqlite_uri):
    blocked = tmp_path / "blocked" / "tensorflow"
    blocked.mkdir(parents=True)
    (blocked / "__init__.py").write_text("raise ImportError('tensorflow is blocked by this test')")
    uri = sqlite_uri
    result = run_cli("src.train", "reg=batchnorm", "trainer.epochs=2", "trainer.batch_size=64",
                     "dataset.train_limit=256", "dataset.val_size=500", cwd=tmp_path,
                     KERAS_BACKEND="jax", MLFLOW_TRACKING_URI=uri,
                     PYTHONPATH=f"{blocked.parent}{os.pathsep}{ROOT}")
    assert result.returncode == 0, result.stderr[-3000:]
    client = MlflowClient(uri)
    [run] = client.search_runs([client.get_experiment_by_name("mnist-cnn").experiment_id])
    assert run.info.status == "FINISHED"
    assert "keras backend jax" in run.data.params["device"]
    assert run.data.params["batchnorm.kernel"] == "keras"  # the fused kernel is TensorFlow's
    assert "version.jax" in run.data.params and "version.tensorflow" not in run.data.params
    assert [m.step for m in client.get_metric_history(run.info.run_id, "val_accuracy")] == [1, 2]


@pytest.mark.slow
@needs_data
def test_data_parallel_over_two_devices_follows_the_one_device_run_and_records_them(
        tmp_path, sqlite_uri):
    """Two devices simulated on the CPU, as on a 2-GPU machine: the same batches, each split
    in two, the same losses up to float rounding."""
    uri = sqlite_uri
    small = ("trainer.epochs=2", "trainer.batch_size=64", "dataset.train_limit=1024",
             "dataset.val_size=512", "tracking.log_model=false", "tracking.skip_finished=false",
             "tracking.system_metrics=false")
    env = {"KERAS_BACKEND": "jax", "MLFLOW_TRACKING_URI": uri,
           "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    for parallel in ("false", "true"):
        result = run_cli("src.train", *small, f"trainer.data_parallel={parallel}", cwd=tmp_path,
                         **env)
        assert result.returncode == 0, result.stderr[-3000:]
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("mnist-cnn").experiment_id
    one, two = client.search_runs([experiment], order_by=["attributes.start_time ASC"])
    assert (one.data.params["devices"], two.data.params["devices"]) == ("1", "2")
    assert two.data.params["global_batch_size"] == "64"
    assert two.data.params["per_device_batch_size"] == "32"
    for key in ("loss", "val_loss"):
        histories = [[m.value for m in sorted(client.get_metric_history(run.info.run_id, key),
                                              key=lambda m: m.step)] for run in (one, two)]
        assert len(histories[0]) == 2
        assert histories[1] == pytest.approx(histories[0], rel=1e-3), key
