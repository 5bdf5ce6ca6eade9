"""The Keras callback that logs every epoch's metrics to the run, surviving server outages."""

import sys
import time
from typing import Optional

import keras
import requests
from mlflow import MlflowClient
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException

from src.tracking import faults
from src.tracking.resume import JobDir

SYSTEM_METRICS = "system/"  # the prefix of `log_system_metrics`' samples


class EpochMetrics(keras.callbacks.Callback):
    """Logs every epoch's metrics with step = epoch number, 1-based as Keras prints it.

    Not mlflow.keras.MlflowCallback: that one logs 0-based steps, logs evaluate()'s metrics
    again without a step, and stalls or fails when the server goes down. Here an epoch that
    cannot be sent is buffered (in memory and in the job dir, which survives a kill) and
    sent with a later one; the end of training waits up to `wait` s for the server. A resumed
    run's epochs are not logged twice. `history`: all epochs, Keras History format.
    """

    def __init__(self, run_id: str, wait: float, job: Optional[JobDir] = None):
        super().__init__()
        self.run_id, self.wait, self.job = run_id, wait, job
        self.client = MlflowClient()
        self.values: dict[str, dict[int, float]] = faults.patiently(self._logged, wait)
        self.pending: list[Metric] = []
        self._buffer(job.unsent_metrics() if job else [])

    def _logged(self) -> dict[str, dict[int, float]]:
        """The epochs the run already holds (a resumed run), by key and step. Not MLflow's
        `system/...` samples: their steps count samples, not epochs."""
        values: dict[str, dict[int, float]] = {}
        for key in self.client.get_run(self.run_id).data.metrics:
            if key.startswith(SYSTEM_METRICS):
                continue
            for point in self.client.get_metric_history(self.run_id, key):
                values.setdefault(key, {})[point.step] = point.value
        return values

    @property
    def history(self) -> dict[str, list[float]]:
        return {key: [v for _, v in sorted(steps.items())] for key, steps in self.values.items()}

    def on_epoch_end(self, epoch, logs=None):
        step, logs = epoch + 1, logs or {}
        if any(step in self.values.get(key, {}) for key in logs):
            print(f"Epoch {step} is already in run {self.run_id}; its first values are kept")
            return
        stamp = int(time.time() * 1000)
        self._buffer([Metric(k, float(v), stamp, step) for k, v in logs.items()])
        try:
            self._send()
        except (MlflowException, requests.RequestException) as exc:
            if not faults.transient(exc):
                raise
            steps = sorted({m.step for m in self.pending})
            print(f"Tracking server unreachable ({type(exc).__name__}): epochs {steps} "
                  "buffered, sent once it answers", file=sys.stderr)

    def on_train_end(self, logs=None):
        faults.patiently(self._send, self.wait)

    def _buffer(self, metrics: list[Metric]) -> None:
        for m in metrics:
            self.values.setdefault(m.key, {})[m.step] = m.value
        self.pending += metrics
        self._save_pending()

    def _send(self) -> None:
        while self.pending:
            batch = self.pending[:1000]  # MLflow's per-request limit
            self.client.log_batch(self.run_id, metrics=batch)
            self.pending = self.pending[len(batch):]
            self._save_pending()

    def _save_pending(self) -> None:
        if self.job:
            self.job.keep_unsent_metrics(self.pending)
