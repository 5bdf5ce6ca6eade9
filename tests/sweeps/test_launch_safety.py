"""Launching safely, as real processes: a sweep launched twice trains each job once, a lock
dies with its launcher so a relaunch after kill -9 resumes, and no more workers start than
there are jobs."""

import os
import re
import signal
import time

import optuna
import psutil
import pytest
from mlflow import MlflowClient

from src.search import study as studies
from tests.conftest import run_cli
from tests.processes import Gate, Training

pytestmark = [pytest.mark.slow, pytest.mark.faults]
EPOCH_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy", "epoch_seconds")
# Two jobs, held after their first epoch (tests/processes.py's Gate) while the test launches.
SWEEP = ("-m", "reg=none,dropout", "trainer.epochs=3", "dataset.train_limit=1000",
         "dataset.val_size=500", "tracking.log_model=false")


def job_runs(uri: str) -> dict:
    client = MlflowClient(uri)
    found = client.get_experiment_by_name("mnist-cnn")
    runs = client.search_runs([found.experiment_id], "tags.`mlflow.parentRunId` LIKE '%'")
    return {run.info.run_name: run for run in runs}


def every_job_logged_an_epoch(uri: str) -> bool:
    runs = job_runs(uri)
    client = MlflowClient(uri)
    return len(runs) == 2 and all(client.get_metric_history(r.info.run_id, "loss")
                                  for r in runs.values())


def assert_every_point_once(uri: str, epochs: int) -> None:
    client = MlflowClient(uri)
    runs = job_runs(uri)
    assert sorted(runs) == ["mnist-cnn-dropout-s0", "mnist-cnn-none-s0"]
    for run in runs.values():
        assert run.info.status == "FINISHED"
        for key in EPOCH_KEYS:
            steps = sorted(m.step for m in client.get_metric_history(run.info.run_id, key))
            assert steps == list(range(1, epochs + 1)), (run.info.run_name, key, steps)


def test_a_second_launch_of_a_running_sweep_is_refused_and_each_point_is_stored_once(tmp_path):
    uri, gate = f"sqlite:///{tmp_path / 'mlflow.db'}", Gate(tmp_path)
    first = Training(*SWEEP, cwd=tmp_path, MLFLOW_TRACKING_URI=uri, **gate.env)
    first.wait_until(lambda: "Sweep parent run" in first.output
                     and every_job_logged_an_epoch(uri), "an epoch logged by both jobs")
    second = run_cli("src.train", *SWEEP, cwd=tmp_path, MLFLOW_TRACKING_URI=uri, timeout=300)
    gate.open()
    assert second.returncode == 1, second.stdout[-2000:] + second.stderr[-2000:]
    said = second.stderr.strip()
    refused = (rf"error: sweep \S+ is already being run by process {first.proc.pid} on \S+ "
               r"\(for \d+ s: .*src/train\.py -m reg=none,dropout .*\): wait for it to end, or "
               r"stop it and launch again to resume what it left")
    assert re.fullmatch(refused, said), said
    assert "Resuming" not in second.stdout and "epoch" not in second.stdout
    assert first.finish() == 0, first.output[-3000:]
    assert_every_point_once(uri, epochs=3)


def test_a_relaunch_after_kill_9_of_the_launcher_resumes_its_jobs(tmp_path):
    uri, gate = f"sqlite:///{tmp_path / 'mlflow.db'}", Gate(tmp_path)
    first = Training(*SWEEP, "hydra.launcher.workers=2", cwd=tmp_path, MLFLOW_TRACKING_URI=uri,
                     **gate.env)
    first.wait_until(lambda: "Sweep parent run" in first.output
                     and every_job_logged_an_epoch(uri), "an epoch logged by both jobs")
    os.kill(first.proc.pid, signal.SIGKILL)  # the launcher alone: its lock dies with it
    assert first.finish() == -signal.SIGKILL
    deadline = time.monotonic() + 60  # its orphaned workers stop: their runs end KILLED
    while {r.info.status for r in job_runs(uri).values()} != {"KILLED"}:
        assert time.monotonic() < deadline, {n: r.info.status for n, r in job_runs(uri).items()}
        time.sleep(0.5)
    again = run_cli("src.train", *SWEEP, "hydra.launcher.workers=2", cwd=tmp_path,
                    MLFLOW_TRACKING_URI=uri, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("Resuming MLflow run") == 2, again.stdout[-3000:]
    assert_every_point_once(uri, epochs=3)


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


def test_a_worker_count_above_the_jobs_starts_no_more_workers_than_jobs(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    sweep = Training("-m", "seed=0,1", "dataset=digits", "model=mlp", "trainer.epochs=20",
                     "hydra.launcher.workers=1000", cwd=tmp_path, MLFLOW_TRACKING_URI=uri)
    launcher, seen = psutil.Process(sweep.proc.pid), set()
    while sweep.proc.poll() is None:
        try:
            seen |= workers_of(launcher)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.2)
    assert sweep.finish() == 0, sweep.output[-3000:]
    assert "2 job(s) side by side" in sweep.output
    assert 1 <= len(seen) <= 2, seen


def test_a_study_launched_twice_is_refused_so_no_trial_runs_twice(tmp_path):
    uri, gate = f"sqlite:///{tmp_path / 'mlflow.db'}", Gate(tmp_path)
    study = ("-m", "hparams_search=mnist_cnn", "hydra.sweeper.n_trials=2",
             "hydra.sweeper.n_jobs=1", "trainer.epochs=2", "dataset.train_limit=1000",
             "dataset.val_size=500", "tracking.log_model=false")
    first = Training(*study, cwd=tmp_path, MLFLOW_TRACKING_URI=uri, **gate.env)
    first.wait_until(lambda: " epoch 1/2: " in first.output, "the first trial's first epoch")
    second = run_cli("src.train", *study, cwd=tmp_path, MLFLOW_TRACKING_URI=uri, timeout=300)
    gate.open()
    assert second.returncode == 1
    assert f"is already being run by process {first.proc.pid}" in second.stderr
    assert first.finish() == 0, first.output[-3000:]
    [sweep_dir] = (tmp_path / "multirun").iterdir()
    trials = optuna.load_study(study_name=studies.STUDY,
                               storage=f"sqlite:///{sweep_dir / studies.STORAGE}").trials
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE"]
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("mnist_cnn_search").experiment_id
    runs = client.search_runs([experiment], "tags.`optuna.trial` LIKE '%'")
    assert sorted(r.data.tags["optuna.trial"] for r in runs) == ["0", "1"]
