"""One launcher per sweep, one process per job dir: locks that die with their process.

Launching the same sweep twice (`make run` in two terminals, a cluster resubmitting an array
job) would otherwise resume the same interrupted jobs into the same MLflow runs twice at once:
every epoch logged twice, two writers on one Keras backup. So the launching process holds
`<sweep dir>/launcher.lock` from its preflight to its exit, and each job holds
`<job dir>/job.lock` while it trains; a second launch is refused in one line naming the process
that holds the sweep, and a job whose dir another live process trains waits for it, then refuses.

The locks are POSIX record locks (`fcntl`): the kernel drops them when their process ends, kill
-9 included, so a relaunch after a crash resumes at once. On a filesystem shared by the nodes
of a cluster they hold across nodes where the filesystem implements POSIX locks (NFSv4, NFSv3
with lockd, Lustre mounted with `flock`, GPFS, BeeGFS); on one that does not, each node sees only
its own locks (docs/tracking.md).
"""

import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from src import errors
from src.console import duration
from src.errors import BadInput

SWEEP_LOCK, JOB_LOCK = "launcher.lock", "job.lock"
_held: dict[Path, int] = {}  # lock file -> its open descriptor, for this process's life


class LockedError(BadInput):
    """Another live process holds this sweep or job dir."""


def holder(path: Path) -> str:
    """`process 1234 on host since 10:02 (python -m src.train ...)`, from the lock file."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return "another process"
    since = duration(time.time() - record["time"])
    return (f"process {record['pid']} on {record['host']} (for {since}: "
            f"{record['command']})")


def acquire(path: Path) -> bool:
    """Lock `path` for this process (again: a no-op); False if another process holds it."""
    path = path.resolve()
    if path in _held:
        return True
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)  # (closing it drops no lock of ours: we hold none on this file)
        return False
    record = {"pid": os.getpid(), "host": socket.gethostname(), "time": time.time(),
              "command": " ".join(sys.argv)[-300:]}
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(record).encode(), 0)
    _held[path] = fd
    return True


def release(path: Path) -> None:
    fd = _held.pop(path.resolve(), None)
    if fd is not None:
        os.close(fd)  # closing the descriptor drops the lock


def unlock_job(job_dir: Path) -> None:
    release(job_dir / JOB_LOCK)


def lock_sweep(sweep_dir: Path) -> None:
    """Hold the sweep for this launcher, or refuse: another launch of it is running."""
    path = sweep_dir / SWEEP_LOCK
    if not acquire(path):
        raise LockedError(f"sweep {sweep_dir} is already being run by {holder(path)}: wait for "
                          "it to end, or stop it and launch again to resume what it left")


def lock_job(job_dir: Path, wait: float = 60.0) -> None:
    """Hold the job dir while this process trains it. A holder may be a job whose launcher was
    just killed and which is stopping (within seconds): wait for it, then refuse."""
    path = job_dir / JOB_LOCK
    deadline = time.monotonic() + wait
    told = False
    while not acquire(path):
        if time.monotonic() > deadline:
            raise LockedError(f"job dir {job_dir} is being trained by {holder(path)}: a job "
                              "runs in one process at a time; wait for it, or stop it")
        if not told:
            print(f"Waiting up to {wait:.0f} s for {holder(path)} to release {job_dir}",
                  flush=True)
            told = True
        time.sleep(1.0)


class SweepLock(Callback):
    """`hydra.callbacks.lock`: after the preflight, before the sweep's parent run reopens."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        with errors.reported():
            lock_sweep(Path(config.hydra.sweep.dir))
