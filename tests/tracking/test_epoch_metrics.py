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
