"""Shared fixtures: the composed config, the real and a synthetic dataset, the CLI in a
subprocess, real tracking stores and servers.

Server start/stop code lives in tests/servers.py (a plain module, shared with test files).
"""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose as hydra_compose
from hydra import initialize_config_dir

from src import console
from src.config import CONF_DIR, register, to_typed
from src.data import DatasetInfo
from tests import datasets, servers

pytest_plugins = ["tests.scheduling"]  # the longest test files first

ROOT = Path(__file__).resolve().parents[1]
free_port = servers.free_port
MNIST = DatasetInfo((28, 28, 1), tuple(str(d) for d in range(10)), 60_000, 10_000)


def data_dir() -> str | None:
    """$DATA_DIR, else ../shared/data beside the checkout; None lets Keras download."""
    if os.environ.get("DATA_DIR"):
        return os.environ["DATA_DIR"]
    shared = ROOT.parent / "shared" / "data"
    return str(shared) if shared.is_dir() else None


needs_data = pytest.mark.skipif(data_dir() is None, reason="set DATA_DIR to the IDX files")


def cli_env(**extra: str) -> dict[str, str]:
    """The environment a user's shell gives: DATA_DIR set where the datasets are (an empty
    DATA_DIR in `extra` leaves it unset)."""
    # Not the quiet levels src.console sets in this process once a test imports src.train: in a
    # user's shell they are unset, and an exported level would win over MNIST_LAB_VERBOSE.
    unset = ("MLFLOW_TRACKING_URI", "DATA_DIR", *console.QUIET_ENV)
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update({"PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"})
    if data_dir():
        env["DATA_DIR"] = data_dir()
    env.update(extra)
    if not env.get("DATA_DIR"):
        env.pop("DATA_DIR", None)
    return env


def run_cli(module: str, *args: str, cwd: Path, timeout: float = 900, **env: str):
    """`python -m <module> args...` from `cwd`, as a user would type it."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd, env=cli_env(**env), capture_output=True, text=True, timeout=timeout,
    )


def user_lines(stderr: str) -> str:
    """stderr without the lines `-X importtime` (PYTHONPROFILEIMPORTTIME=1) adds."""
    return "\n".join(line for line in stderr.splitlines() if not line.startswith("import time:"))


def imported(stderr: str) -> set[str]:
    """Top-level packages the process imported, from `-X importtime`'s report."""
    names = (line.rsplit("|", 1)[-1].strip() for line in stderr.splitlines()
             if line.startswith("import time:"))
    return {name.split(".")[0] for name in names}


@pytest.fixture(scope="session")
def compose():
    """`compose(*overrides)`: conf/ composed as `python -m src.train <overrides>` composes it,
    typed and range-checked. With `hydra=True`, the untyped config with Hydra's own node."""
    register()

    def composed(*overrides: str, hydra: bool = False):
        with initialize_config_dir(CONF_DIR, version_base="1.3"):
            cfg = hydra_compose("config", overrides=list(overrides), return_hydra_config=hydra)
        return cfg if hydra else to_typed(cfg)

    return composed


@pytest.fixture(scope="session")
def synthetic(tmp_path_factory) -> tuple[str, ...]:
    """Overrides that train on a small synthetic IDX release (MNIST's format and shape, 4,000
    training images), added through Hydra's search path as a user adds a dataset: for
    end-to-end tests of the mechanics rather than the accuracy. It needs no DATA_DIR."""
    return datasets.write_idx_dataset(tmp_path_factory.mktemp("synthetic"))


@pytest.fixture(scope="session")
def built(compose):
    """`built(*overrides, info=MNIST)`: the model and regularizers those overrides compose,
    built for a dataset that `info` describes."""
    from src import models

    def build(*overrides: str, info: DatasetInfo = MNIST):
        cfg = compose(*overrides)
        return models.build(cfg.model, cfg.reg, info, cfg.dataset.name,
                            cfg.trainer.fused_batchnorm)

    return build


@pytest.fixture(scope="session")
def store_template(tmp_path_factory) -> Path:
    """An empty SQLite tracking store, made once a session: MLflow's schema migrations take
    seconds for every new store file, a copy of a migrated one milliseconds."""
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("store") / "template.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


def copy_of(template: Path, path: Path) -> str:
    """A new store at `path` as `template` holds it (SQLite's backup: consistent even while
    the template is open), and its URI."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(template) as source, sqlite3.connect(path) as copy:
        source.backup(copy)
    return f"sqlite:///{path}"


@pytest.fixture
def sqlite_uri(tmp_path, store_template):
    """A fresh SQLite tracking store, also set as the process's tracking URI."""
    import mlflow

    uri = copy_of(store_template, tmp_path / "mlflow.db")
    mlflow.set_tracking_uri(uri)
    yield uri
    mlflow.end_run()


@pytest.fixture
def mlflow_server(tmp_path, store_template):
    """http URI of a real `mlflow server` with a fresh temp SQLite store (one per test, so tests
    can count runs); stopped at teardown."""
    workdir = tmp_path / "mlflow-server"
    copy_of(store_template, workdir / "mlflow.db")  # the server starts without migrating it
    with servers.mlflow_sqlite_server(workdir) as uri:
        yield uri
