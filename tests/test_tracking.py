"""What every run records and how it ends, against a temp SQLite store."""

import time

import mlflow
import pytest
from mlflow import MlflowClient

from src import tracking
from src.config import Config, RegConfig
from tests.conftest import free_port


@pytest.fixture
def sqlite_uri(tmp_path):
    yield f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.end_run()


def test_run_name_reads_as_dataset_model_reg_seed():
    cfg = Config(reg=RegConfig(name="dropout"), seed=3)
    assert tracking.run_name(cfg) == "mnist-cnn-dropout-s3"


def test_params_are_the_flattened_config_without_tracking():
    params = tracking.flat_params(Config())
    assert params["reg.conv_dropout"] == 0.0 and params["optimizer.lr"] == 1e-3
    assert params["trainer.epochs"] == 10 and params["seed"] == 0
    assert params["dataset.split"] == "last"
    assert not any(key.startswith("tracking.") for key in params)


def test_run_records_params_versions_and_git_commit(sqlite_uri):
    with tracking.run(Config(), sqlite_uri) as active:
        tracking.log_params({"model.params": 121930})
        run_id = active.info.run_id
    run = MlflowClient(sqlite_uri).get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "mnist-cnn-none-s0"
    assert run.data.params["model.params"] == "121930"
    assert run.data.params["version.keras"].startswith("3.")
    assert len(run.data.tags["git.commit"]) == 40
    assert run.data.tags["git.dirty"] in ("true", "false")


def test_run_that_raises_ends_failed_not_running(sqlite_uri):
    with pytest.raises(RuntimeError):
        with tracking.run(Config(), sqlite_uri) as active:
            run_id = active.info.run_id
            raise RuntimeError("training blew up")
    assert MlflowClient(sqlite_uri).get_run(run_id).info.status == "FAILED"


def test_unreachable_server_fails_fast_naming_the_uri():
    uri = f"http://127.0.0.1:{free_port()}"
    start = time.monotonic()
    with pytest.raises(tracking.TrackingError, match=uri) as err:
        tracking.check_reachable(uri)
    assert "mlflow server" in str(err.value)
    assert time.monotonic() - start < 10


def test_local_default_is_sqlite_in_the_launch_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    assert tracking.tracking_uri(Config().tracking) == f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert tracking.tracking_uri(Config().tracking) == "http://127.0.0.1:5000"
