"""Shared fixtures. Server start/stop code lives in tests/servers.py (a plain importable module)."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `import servers`, however pytest imports
import servers  # noqa: E402


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    """http URI of a real `mlflow server` (temp SQLite store, proxied artifacts, free port).

    One per session because startup costs seconds; use unique experiment names. Killed at teardown.
    """
    with servers.mlflow_sqlite_server(tmp_path_factory.mktemp("mlflow-server")) as uri:
        yield uri
