"""Riding out a tracking-server outage: fail each request fast, retry the whole call.

MLflow's HTTP client retries a dead server for about four minutes per request, which would
stall an epoch. Runs here set short per-request retries and handle the outage one level up:
per-epoch metrics are buffered (src.tracking.EpochMetrics) and the end of a run waits, with
`patiently`, for up to `tracking.wait_for_server` seconds.
"""

import os
import sys
import time
from collections.abc import Callable
from typing import TypeVar

import mlflow
import requests
from mlflow.exceptions import MlflowException, RestException

# Per request: 3 tries about 2 s apart, 20 s socket timeout; exported values win.
HTTP_SETTINGS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
}


def fail_fast_http() -> None:
    for name, value in HTTP_SETTINGS.items():
        os.environ.setdefault(name, value)


def transient(exc: Exception) -> bool:
    """The store was unreachable (or a SQLite file locked), as opposed to refusing the call."""
    if isinstance(exc, RestException):
        return False
    if mlflow.get_tracking_uri().startswith(("http://", "https://")):
        return True
    return "database is locked" in str(exc)


T = TypeVar("T")


def patiently(call: Callable[[], T], wait: float) -> T:
    """`call()`, retried for up to `wait` seconds while the tracking store is unreachable."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return call()
        except (MlflowException, requests.RequestException) as exc:
            if not transient(exc) or time.monotonic() >= deadline:
                raise
            print(f"Tracking store unreachable ({type(exc).__name__}); retrying for "
                  f"{deadline - time.monotonic():.0f} s more", file=sys.stderr)
            time.sleep(min(5.0, max(0.0, deadline - time.monotonic())))
