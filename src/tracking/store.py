"""Where runs go, and whether that store can be used: standard library only, so a check costs
no MLflow or TensorFlow import."""

import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional

from src.errors import BadInput

LOCAL_STORE = "mlflow.db"  # the default store: a SQLite file in the launch directory


class TrackingError(BadInput):
    """The tracking store cannot be used; raised before any training starts."""


def tracking_uri(configured: Optional[str] = None) -> str:
    """`configured` (tracking.uri, --tracking-uri), else $MLFLOW_TRACKING_URI, else a SQLite file
    in the launch directory."""
    uri = configured or os.environ.get("MLFLOW_TRACKING_URI")
    return uri or f"sqlite:///{Path.cwd() / LOCAL_STORE}"


def is_server(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def ui_link(uri: str, experiment_id: str, run_id: str = "", tab: str = "") -> str:
    """The run (or experiment) in a server's UI, on its model-training view: MLflow 3.17's UI
    picks GenAI or model training from its sidebar switch (GenAI until a person flips it), not
    from the experiment's `mlflow.experimentKind`, so the link says which."""
    page = f"experiments/{experiment_id}" + (f"/runs/{run_id}" if run_id else "/runs")
    page += f"/{tab}" if tab else ""
    return f"{uri.rstrip('/')}/#/{page}?workflowType=machine_learning"


def store_exists(uri: str) -> bool:
    """False for a SQLite file not created yet: reading it through MLflow would create it."""
    if uri.startswith("sqlite:///"):
        return Path(uri.removeprefix("sqlite:///")).exists()
    return True


def check_readable(uri: str) -> None:
    """A store to read runs from, checked before any MLflow client: MLflow would create an empty
    SQLite file where none is, and retry a dead server for minutes."""
    if not store_exists(uri):
        raise TrackingError(f"no tracking store at {uri}: train first (python -m src.train) or "
                            "point --tracking-uri / MLFLOW_TRACKING_URI at the store")
    check_reachable(uri)


def check_reachable(uri: str, timeout: float = 5.0, patience: float = 0.0) -> None:
    """Fail fast on a dead server instead of MLflow's minutes of retries mid-run; with
    `patience`, ask again for up to that many seconds first (a sweep's job, whose server the
    preflight reached, finding it mid-restart)."""
    if not is_server(uri):
        return
    deadline = time.monotonic() + patience
    while True:
        try:
            with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout):
                return
        except (urllib.error.URLError, OSError) as exc:
            if time.monotonic() >= deadline:
                raise TrackingError(
                    f"MLflow tracking server {uri} is unreachable ({getattr(exc, 'reason', exc)})."
                    " Start it (`mlflow server --host 127.0.0.1 --port 5000`, or the stack in the "
                    "README), or unset tracking.uri / MLFLOW_TRACKING_URI to log to the local "
                    f"sqlite:///{LOCAL_STORE}.") from exc
        time.sleep(2.0)
