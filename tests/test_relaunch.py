"""Launching the same command again: same dirs, same config identity, the same MLflow run."""

import os
import signal

import mlflow
import pytest
from hydra import compose, initialize_config_dir
from mlflow import MlflowClient
from mlflow.entities import Metric

from src import relaunch, tracking
from src.config import Config, register
from tests.conftest import ROOT

register()


def composed(*overrides: str, hydra: bool = False):
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        return compose("config", overrides=list(overrides), return_hydra_config=hydra)


@pytest.fixture
def sqlite_uri(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    yield uri
    mlflow.end_run()


def test_config_hash_ignores_where_and_how_verbosely_a_config_runs():
    base = relaunch.config_hash(composed())
    same = ("tracking.uri=http://elsewhere:5000", "trainer.verbose=0", "dataset.data_dir=/x",
            "tracking.experiment=other", "tracking.skip_finished=false")
    assert relaunch.config_hash(composed(*same)) == base
    for override in ("reg=dropout", "seed=1", "trainer.epochs=3", "dataset.train_limit=10"):
        assert relaunch.config_hash(composed(override)) != base, override


def test_output_dir_is_named_after_the_overrides_in_any_order():
    one = composed("reg=dropout", "seed=1", hydra=True).hydra.run.dir
    assert composed("seed=1", "reg=dropout", hydra=True).hydra.run.dir == one
    assert composed("reg=dropout", hydra=True).hydra.run.dir != one
    assert one.startswith("outputs/")


def test_job_dir_resumes_only_the_config_it_recorded(tmp_path, sqlite_uri):
    experiment = tracking.experiment_id("relaunch")
    run_id = MlflowClient().create_run(experiment).info.run_id
    job = relaunch.JobDir(tmp_path / "job")
    job.remember(run_id, "hash-a")
    job.backup.mkdir()
    assert job.interrupted_run("hash-a", experiment) == run_id
    assert job.interrupted_run("hash-b", experiment) is None  # another config's state...
    assert not job.backup.exists() and not job.record.exists()  # ...is dropped, not restored


def test_interrupted_run_is_resumed_then_finished_and_forgotten(tmp_path, sqlite_uri):
    job = relaunch.JobDir(tmp_path / "job")
    with pytest.raises(KeyboardInterrupt):
        with tracking.run(Config(), sqlite_uri, "h", job) as first:
            raise KeyboardInterrupt
    assert MlflowClient().get_run(first.info.run_id).info.status == "KILLED"
    with tracking.run(Config(), sqlite_uri, "h", job) as second:
        assert second.info.run_id == first.info.run_id
    assert MlflowClient().get_run(first.info.run_id).info.status == "FINISHED"
    assert not job.record.exists()


def test_sigterm_inside_a_run_ends_it_killed(sqlite_uri):
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as stop:
        with tracking.run(Config(), sqlite_uri) as active:
            os.kill(os.getpid(), signal.SIGTERM)
    assert stop.value.code == 128 + signal.SIGTERM
    assert MlflowClient().get_run(active.info.run_id).info.status == "KILLED"
    assert signal.getsignal(signal.SIGTERM) == before  # the handler is put back


def test_resumed_run_keeps_logged_epochs_and_sends_unsent_ones(tmp_path, sqlite_uri):
    client = MlflowClient()
    run_id = client.create_run(tracking.experiment_id("relaunch")).info.run_id
    client.log_batch(run_id, metrics=[Metric("loss", 0.9, 0, 1), Metric("loss", 0.8, 0, 2)])
    job = relaunch.JobDir(tmp_path)
    job.keep_unsent_metrics([Metric("loss", 0.7, 0, 3)])  # buffered before a kill -9
    epochs = tracking.EpochMetrics(run_id, wait=0, job=job)
    epochs.on_epoch_end(2, {"loss": 0.65})  # epoch 3 again: already logged, kept
    epochs.on_epoch_end(3, {"loss": 0.6})
    epochs.on_train_end()
    history = client.get_metric_history(run_id, "loss")
    assert sorted((m.step, m.value) for m in history) == [(1, 0.9), (2, 0.8), (3, 0.7), (4, 0.6)]
    assert epochs.history["loss"] == [0.9, 0.8, 0.7, 0.6]
    assert not job.pending_metrics.exists()
