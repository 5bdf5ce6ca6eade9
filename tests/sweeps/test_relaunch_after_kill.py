"""The sweep's lock dies with its launcher: a relaunch after kill -9 resumes its jobs, once the
orphaned workers have stopped."""

import os
import signal
import time

import pytest

from tests.conftest import run_cli
from tests.processes import Gate, Training
from tests.sweeps.launches import (
    SWEEP,
    assert_every_point_once,
    every_job_logged_an_epoch,
    job_runs,
)

pytestmark = [pytest.mark.slow, pytest.mark.faults]


def test_a_relaunch_after_kill_9_of_the_launcher_resumes_its_jobs(tmp_path, sqlite_uri, synthetic):
    uri, gate = sqlite_uri, Gate(tmp_path)
    first = Training(*SWEEP, *synthetic, "hydra.launcher.workers=2", cwd=tmp_path,
                     MLFLOW_TRACKING_URI=uri, **gate.env)
    first.wait_until(lambda: "Sweep parent run" in first.output
                     and every_job_logged_an_epoch(uri), "an epoch logged by both jobs")
    os.kill(first.proc.pid, signal.SIGKILL)  # the launcher alone: its lock dies with it
    assert first.finish() == -signal.SIGKILL
    deadline = time.monotonic() + 60  # its orphaned workers stop: their runs end KILLED
    while {r.info.status for r in job_runs(uri).values()} != {"KILLED"}:
        assert time.monotonic() < deadline, {n: r.info.status for n, r in job_runs(uri).items()}
        time.sleep(0.5)
    again = run_cli("src.train", *SWEEP, *synthetic, "hydra.launcher.workers=2", cwd=tmp_path,
                    MLFLOW_TRACKING_URI=uri, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("Resuming MLflow run") == 2, again.stdout[-3000:]
    assert_every_point_once(uri, epochs=3)
