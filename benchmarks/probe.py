"""What both benchmark sides measure inside their process, and the result file they write.

Shared by side A (the project) and side B (the notebook script) so both are timed the same
way. `BENCH_T0` is the harness's `time.monotonic()` just before it started the process, so
"start-up" includes the interpreter, the imports and the data loading. Monotonic, not wall
clock: on Linux it is one system-wide clock, so stamps compare across processes, and a virtual
machine's wall clock stepping by its time sync cannot make a start-up longer than its process.
"""

import json
import os
import threading
import time
from pathlib import Path
from typing import Optional

import keras


class Probe(keras.callbacks.Callback):
    """Marks the first training batch, each epoch's training phase and each whole epoch."""

    def __init__(self):
        super().__init__()
        self.first_batch_begin = None  # time.monotonic() when the first batch is about to run
        self.first_batch_end = None  # ... and when it has run (tracing/compilation included)
        self.train_seconds: list[float] = []  # per epoch, training batches only
        self.train_cpu_seconds: list[float] = []  # ... as CPU time of all threads: load-robust
        self.epoch_seconds: list[float] = []  # per epoch, training + validation + callbacks
        self.logged_epoch_seconds: list[float] = []  # `epoch_seconds` as EpochTimer logged it
        self.fit_seconds = 0.0
        self.monitor_cpu_seconds = None  # MLflow's system-metrics thread, during fit
        self._epoch_start = self._train_end = self._cpu_start = self._cpu_end = None

    def on_train_begin(self, logs=None):
        self._fit_start = time.perf_counter()
        self._monitor_start = monitor_cpu_seconds()

    def on_train_end(self, logs=None):
        self.fit_seconds = time.perf_counter() - self._fit_start
        if self._monitor_start is not None:
            self.monitor_cpu_seconds = monitor_cpu_seconds() - self._monitor_start

    def on_train_batch_begin(self, batch, logs=None):
        if self.first_batch_begin is None:
            self.first_batch_begin = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        if self.first_batch_end is None:
            for value in (logs or {}).values():
                keras.ops.convert_to_numpy(value)  # waits for backends that dispatch async (JAX)
            self.first_batch_end = time.monotonic()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start, self._train_end = time.perf_counter(), None
        self._cpu_start, self._cpu_end = time.process_time(), None

    def on_test_begin(self, logs=None):
        if self._epoch_start is not None and self._train_end is None:
            # Validation inside fit: training of this epoch is over once its weights are ready.
            keras.ops.convert_to_numpy(self.model.trainable_weights[0])
            self._train_end, self._cpu_end = time.perf_counter(), time.process_time()

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        self.train_seconds.append((self._train_end or now) - self._epoch_start)
        self.epoch_seconds.append(now - self._epoch_start)
        self.train_cpu_seconds.append((self._cpu_end or time.process_time()) - self._cpu_start)
        if logs and "epoch_seconds" in logs:
            self.logged_epoch_seconds.append(float(logs["epoch_seconds"]))
        self._epoch_start = None

    def summary(self) -> dict:
        t0 = float(os.environ.get("BENCH_T0", "nan"))
        return {
            "train_seconds": self.train_seconds,
            "train_cpu_seconds": self.train_cpu_seconds,
            "epoch_seconds": self.epoch_seconds,
            "logged_epoch_seconds": self.logged_epoch_seconds,
            "fit_seconds": self.fit_seconds,
            "monitor_cpu_seconds": self.monitor_cpu_seconds,
            "start_to_first_step_s": self.first_batch_begin - t0,
            "start_to_first_step_done_s": self.first_batch_end - t0,
        }


def monitor_cpu_seconds() -> Optional[float]:
    """CPU time so far of the thread MLflow samples system metrics in, if this process has one:
    what system metrics cost the training, measured directly rather than as a small difference
    of two noisy wall times."""
    ids = {t.native_id for t in threading.enumerate() if t.name == "SystemMetricsMonitor"}
    if not ids:
        return None
    import psutil

    return sum(t.user_time + t.system_time for t in psutil.Process().threads() if t.id in ids)


def write_result(path: str, **fields) -> None:
    fields.update(backend=keras.backend.backend(), keras_version=keras.__version__)
    Path(path).write_text(json.dumps(fields, indent=1))
