"""Quiet start-up, a quick start and exit, and human durations: a leaf module that imports
nothing of the project, so any module (data loaders, the launcher, the preflight) can use it
without an import cycle.

What a run prints is its MLflow run, a line per epoch headed by its name, and its result. The
rest is start-up chatter no one acts on: TensorFlow's C++ lines (oneDNN, CPU features, CUDA
probing on a machine without a GPU) and MLflow's store-migration INFO lines. Both are silenced
by default; `MNIST_LAB_VERBOSE=1` brings them back, and a level you export yourself
(`TF_CPP_MIN_LOG_LEVEL`, `MLFLOW_LOGGING_LEVEL`) always wins.
"""

import atexit
import gc
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

VERBOSE_ENV = "MNIST_LAB_VERBOSE"
QUIET_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "2",  # TensorFlow's C++ INFO and WARNING lines; errors still show
    "MLFLOW_LOGGING_LEVEL": "WARNING",  # "Creating initial MLflow database tables..." and such
}


def verbose() -> bool:
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")


def quiet_by_default() -> None:
    """Set the quiet levels before TensorFlow or MLflow loads; exported values win, and worker
    processes (joblib, submitit) inherit them."""
    if verbose():
        return
    for name, value in QUIET_ENV.items():
        os.environ.setdefault(name, value)
    logging.getLogger("matplotlib").setLevel(logging.WARNING)  # "generated new fontManager"


def quick_exit() -> None:
    """At exit, keep what is alive out of the interpreter's final garbage collections: with
    TensorFlow, Keras and MLflow loaded they search millions of objects for cycles, ~1.2 s of
    each training process's exit, and a sweep's launching process waits for its workers' exits
    before its own (BENCHMARKS.md). atexit handlers and flushes still run and objects are still
    freed by reference counting; only finalizers of objects left in cycles may not run, which
    Python never promises at exit (its `object.__del__` docs). The project ends its runs and
    closes its files before then."""
    atexit.unregister(gc.freeze)  # once, however often it is asked
    atexit.register(gc.freeze)


@contextmanager
def loading() -> Iterator[None]:
    """Load heavy libraries (TensorFlow, Keras, MLflow) with the cyclic garbage collector off,
    then keep what is alive out of its later passes (`gc.freeze`). They create millions of
    objects that live as long as the process, and the collector searches them all again each
    time enough new ones arrive: ~1.5-2 s of every training process's and a sweep's launching
    process's start-up here (BENCHMARKS.md). Reference counting still frees everything outside
    a cycle; the few cycles left while loading stay, as Python's docs accept for `gc.freeze`.
    Where nothing new loaded (a worker's later jobs), nothing is frozen: that job's objects stay
    the collector's to free."""
    enabled, loaded = gc.isenabled(), len(sys.modules)
    gc.disable()
    try:
        yield
    finally:
        if len(sys.modules) > loaded:
            gc.freeze()
        if enabled:
            gc.enable()


@contextmanager
def quiet_startup(expected: tuple[type[BaseException], ...] = ()) -> Iterator[None]:
    """Hold back what the C++ runtime writes to stderr while TensorFlow loads and probes its
    devices, and show it only if that fails (not for the `expected` errors: bad input the
    caller reports in a line of its own).

    TF_CPP_MIN_LOG_LEVEL does not reach the lines TensorFlow logs before it initializes absl
    logging (tensorflow/tensorflow#100442), so they are caught at the file descriptor.
    """
    if verbose():
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except expected:
            raise
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            os.write(2, held.read())
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def duration(seconds: float) -> str:
    """`55 s`, `3 min 10 s`, `1 h 05 min`."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
