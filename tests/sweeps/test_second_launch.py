"""A second launch of a running sweep or study is refused in one line naming the process that
runs it, and the first trains each job (each trial) once: every epoch is stored once."""

import re

import optuna
import pytest
from mlflow import MlflowClient

from src.search import study as studies
from tests.conftest import run_cli
from tests.processes import Gate, Training
from tests.sweeps.launches import SWEEP, assert_every_point_once, every_job_logged_an_epoch

pytestmark = [pytest.mark.slow, pytest.mark.faults]


def test_a_second_launch_of_a_running_sweep_is_refused_and_each_point_is_stored_once(
        tmp_path, sqlite_uri, synthetic):
    uri, gate = sqlite_uri, Gate(tmp_path)
    first = Training(*SWEEP, *synthetic, cwd=tmp_path, MLFLOW_TRACKING_URI=uri, **gate.env)
    first.wait_until(lambda: "Sweep parent run" in first.output
                     and every_job_logged_an_epoch(uri), "an epoch logged by both jobs")
    second = run_cli("src.train", *SWEEP, *synthetic, cwd=tmp_path, MLFLOW_TRACKING_URI=uri,
                     timeout=300)
    gate.open()
    assert second.returncode == 1, second.stdout[-2000:] + second.stderr[-2000:]
    said = second.stderr.strip()
    refused = (rf"error: sweep \S+ is already being run by process {first.proc.pid} on \S+ "
               r"\(for [\d a-z]+: .*src/train\.py -m reg=none,dropout .*\): wait for it to end, or "
               r"stop it and launch again to resume what it left")
    assert re.fullmatch(refused, said), said
    assert "Resuming" not in second.stdout and "epoch" not in second.stdout
    assert first.finish() == 0, first.output[-3000:]
    assert_every_point_once(uri, epochs=3)


def test_a_study_launched_twice_is_refused_so_no_trial_runs_twice(tmp_path, sqlite_uri):
    uri, gate = sqlite_uri, Gate(tmp_path)
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
