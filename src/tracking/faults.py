"""Faults a run must survive or report: a tracking-server outage, and SIGTERM.

Outage: MLflow's HTTP client retries a dead server for about four minutes per request, which
would stall an epoch. Runs set short per-request retries and handle the outage one level up:
per-epoch metrics are buffered (src.tracking.epoch_metrics) and the end of a run waits, with
`patiently`, up to `tracking.wait_for_server` seconds.

SIGTERM (kill, scancel, docker stop) becomes an exception, so `with` blocks unwind and the run
ends KILLED instead of staying RUNNING.
"""

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

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


class Terminated(SystemExit):
    """SIGTERM (kill, scancel, docker stop) as an exception: `with` blocks unwind, the run
    ends KILLED."""


def raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated(128 + signum)


def sigterm_raises() -> bool:
    """Make SIGTERM raise Terminated, unless something already handles it (submitit does, to
    requeue preempted jobs: they then resume). Returns whether the handler was installed."""
    if threading.current_thread() is not threading.main_thread():
        return False
    if signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        return False
    signal.signal(signal.SIGTERM, raise_terminated)
    return True
