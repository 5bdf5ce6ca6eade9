"""Shared fixtures: the real datasets, the CLI in a subprocess, a real MLflow server.

Server start/stop code lives in tests/servers.py (a plain module, shared with test files).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import servers

ROOT = Path(__file__).resolve().parents[1]
free_port = servers.free_port


def data_dir() -> str | None:
    """$DATA_DIR, else ../shared/data beside the checkout; None lets Keras download."""
    if os.environ.get("DATA_DIR"):
        return os.environ["DATA_DIR"]
    shared = ROOT.parent / "shared" / "data"
    return str(shared) if shared.is_dir() else None


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env.update(PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", **extra)
    if data_dir():
        env["DATA_DIR"] = data_dir()
    return env


def run_cli(module: str, *args: str, cwd: Path, timeout: float = 900, **env: str):
    """`python -m <module> args...` from `cwd`, as a user would type it."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd, env=cli_env(**env), capture_output=True, text=True, timeout=timeout,
    )


@pytest.fixture
def mlflow_server(tmp_path):
    """http URI of a real `mlflow server` with a fresh temp SQLite store (one per test, so tests
    can count runs); stopped at teardown."""
    workdir = tmp_path / "mlflow-server"
    workdir.mkdir()
    with servers.mlflow_sqlite_server(workdir) as uri:
        yield uri
