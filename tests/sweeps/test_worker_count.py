"""No more worker processes than jobs, whatever count is asked for."""

import time

import psutil
import pytest

from src.sweeps import plan
from tests.processes import Training

pytestmark = [pytest.mark.slow, pytest.mark.faults]


def workers_of(launcher: psutil.Process) -> set[int]:
    """The launcher's worker processes: its Python children but loky's resource tracker (not
    their own children, such as the `git` a run asks for its commit)."""
    found = set()
    for child in launcher.children():
        try:
            command = " ".join(child.cmdline())
            if "python" in command and "resource_tracker" not in command:
                found.add(child.pid)
        except psutil.NoSuchProcess:
            pass
    return found


def test_a_worker_count_above_the_jobs_starts_no_more_workers_than_jobs(tmp_path, sqlite_uri):
    uri = sqlite_uri
    asked = plan.SQLITE_MAX_WORKERS  # the most a SQLite store takes, far above the 2 jobs
    sweep = Training("-m", "seed=0,1", "dataset=digits", "model=mlp", "trainer.epochs=5",
                     f"hydra.launcher.workers={asked}", cwd=tmp_path, MLFLOW_TRACKING_URI=uri)
    launcher, most = psutil.Process(sweep.proc.pid), 0
    while sweep.proc.poll() is None:
        try:
            most = max(most, len(workers_of(launcher)))  # alive at once
        except psutil.NoSuchProcess:
            break
        time.sleep(0.2)
    assert sweep.finish() == 0, sweep.output[-3000:]
    assert "2 job(s) side by side" in sweep.output
    assert 1 <= most <= 2, most
