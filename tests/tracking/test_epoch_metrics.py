"""The per-epoch Keras callback: step = epoch, nothing logged twice, nothing lost."""

from mlflow import MlflowClient
from mlflow.entities import Metric

from src.tracking import lifecycle
from src.tracking.epoch_metrics import EpochMetrics
from src.tracking.resume import JobDir


def test_resumed_run_keeps_logged_epochs_and_sends_unsent_ones(tmp_path, sqlite_uri):
    client = MlflowClient()
    run_id = client.create_run(lifecycle.experiment_id("relaunch")).info.run_id
    client.log_batch(run_id, metrics=[Metric("loss", 0.9, 0, 1), Metric("loss", 0.8, 0, 2)])
    job = JobDir(tmp_path)
    job.keep_unsent_metrics([Metric("loss", 0.7, 0, 3)])  # buffered before a kill -9
    epochs = EpochMetrics(run_id, wait=0, job=job)
    epochs.on_epoch_end(2, {"loss": 0.65})  # epoch 3 again: already logged, kept
    epochs.on_epoch_end(3, {"loss": 0.6})
    epochs.on_train_end()
    history = client.get_metric_history(run_id, "loss")
    assert sorted((m.step, m.value) for m in history) == [(1, 0.9), (2, 0.8), (3, 0.7), (4, 0.6)]
    assert epochs.history["loss"] == [0.9, 0.8, 0.7, 0.6]
    assert not job.pending_metrics.exists()


def test_a_resumed_run_s_system_metric_samples_do_not_hide_its_next_epochs(sqlite_uri):
    """MLflow numbers its system/... samples 0, 1, 2, ...: a killed run held in its first epoch
    for a while has samples at the steps its next epochs will take."""
    client = MlflowClient()
    run_id = client.create_run(lifecycle.experiment_id("relaunch")).info.run_id
    samples = [Metric("system/cpu_utilization_percentage", 50.0, 0, step) for step in range(6)]
    client.log_batch(run_id, metrics=[Metric("loss", 0.9, 0, 1), *samples])
    epochs = EpochMetrics(run_id, wait=0)
    epochs.on_epoch_end(1, {"loss": 0.8})
    epochs.on_epoch_end(2, {"loss": 0.7})
    epochs.on_train_end()
    assert sorted(m.step for m in client.get_metric_history(run_id, "loss")) == [1, 2, 3]
    assert epochs.history == {"loss": [0.9, 0.8, 0.7]}
