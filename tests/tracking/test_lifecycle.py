"""A training run's life against a temp SQLite store: what it records and how it ends."""

import os
import signal

import pytest
from mlflow import MlflowClient

from src.tracking import lifecycle
from src.tracking.resume import JobDir


def test_run_records_params_versions_and_git_commit(compose, sqlite_uri):
    with lifecycle.training_run(compose(), sqlite_uri) as run_id:
        lifecycle.log_params({"model.params": 121930})
    run = MlflowClient(sqlite_uri).get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "mnist-cnn-none-s0"
    assert run.data.params["model.params"] == "121930" and run.data.params["seed"] == "0"
    assert run.data.params["version.mlflow"]
    assert len(run.data.tags["git.commit"]) == 40
    assert run.data.tags["git.dirty"] in ("true", "false")


def test_run_that_raises_ends_failed_not_running(compose, sqlite_uri):
    with pytest.raises(RuntimeError), lifecycle.training_run(compose(), sqlite_uri) as run_id:
        raise RuntimeError("training blew up")
    assert MlflowClient(sqlite_uri).get_run(run_id).info.status == "FAILED"


def test_sigterm_inside_a_run_ends_it_killed(compose, sqlite_uri):
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as stop, lifecycle.training_run(compose(), sqlite_uri) as run_id:
        os.kill(os.getpid(), signal.SIGTERM)
    assert stop.value.code == 128 + signal.SIGTERM
    assert MlflowClient(sqlite_uri).get_run(run_id).info.status == "KILLED"
    assert signal.getsignal(signal.SIGTERM) == before  # the handler is put back


def test_interrupted_run_is_resumed_then_finished_and_forgotten(compose, tmp_path, sqlite_uri):
    job = JobDir(tmp_path / "job")
    with pytest.raises(KeyboardInterrupt), lifecycle.training_run(
        compose(), sqlite_uri, "h", job
    ) as first:
        raise KeyboardInterrupt
    assert MlflowClient().get_run(first).info.status == "KILLED"
    with lifecycle.training_run(compose(), sqlite_uri, "h", job) as second:
        assert second == first
    assert MlflowClient().get_run(first).info.status == "FINISHED"
    assert not job.record.exists()


def test_experiment_is_created_once_and_then_found(sqlite_uri):
    assert lifecycle.experiment_id("lifecycle") == lifecycle.experiment_id("lifecycle")


def test_a_new_experiment_opens_on_the_model_training_view(sqlite_uri):
    experiment = MlflowClient(sqlite_uri).get_experiment(lifecycle.experiment_id("fresh"))
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"


def test_a_kind_someone_chose_for_the_experiment_is_kept(sqlite_uri):
    client = MlflowClient(sqlite_uri)
    chosen = client.create_experiment("chosen", tags={"mlflow.experimentKind": "finetuning"})
    assert lifecycle.experiment_id("chosen") == chosen
    assert client.get_experiment(chosen).tags["mlflow.experimentKind"] == "finetuning"
