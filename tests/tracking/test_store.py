"""Where runs go and whether the store can be used, answered without MLflow or TensorFlow."""

import subprocess
import sys

import pytest

from src.tracking import store
from tests.conftest import ROOT, cli_env, free_port


def test_local_default_is_sqlite_in_the_launch_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    assert store.tracking_uri() == f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert store.tracking_uri() == "http://127.0.0.1:5000"
    assert store.tracking_uri("http://elsewhere:5000") == "http://elsewhere:5000"


def test_a_sqlite_store_exists_only_once_its_file_does(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert not store.store_exists(uri)
    (tmp_path / "mlflow.db").touch()
    assert store.store_exists(uri) and store.store_exists("http://127.0.0.1:1")


def test_unreachable_server_fails_naming_the_uri_and_what_to_do():
    uri = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(store.TrackingError, match=uri) as err:
        store.check_reachable(uri)
    assert "mlflow server" in str(err.value) and "MLFLOW_TRACKING_URI" in str(err.value)


def test_a_local_store_needs_no_reachability_check(tmp_path):
    store.check_reachable(f"sqlite:///{tmp_path / 'nowhere' / 'mlflow.db'}")


@pytest.mark.server
def test_a_running_server_is_reachable(mlflow_server):
    store.check_reachable(mlflow_server)


def test_the_tracking_core_imports_no_keras_tensorflow_or_matplotlib():
    core = ("store", "provenance", "lifecycle", "resume", "faults", "sweep")
    code = (f"import sys; import {', '.join(f'src.tracking.{m}' for m in core)}; "
            "print(sorted({'tensorflow', 'keras', 'jax', 'matplotlib'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=cli_env(),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
