"""An Optuna study as a researcher runs one: `-m hparams_search=...`, killed with kill -9 in the
middle of a trial, then the same command again. (Its search space: tests/test_search.py.)"""

import json
import os
import signal
from pathlib import Path

import matplotlib.image
import optuna
import pytest
from mlflow import MlflowClient

from src.search import insight
from src.search import study as studies
from tests.conftest import copy_of, needs_data, run_cli
from tests.processes import Training
from tests.tracking.test_faults import assert_every_epoch_once

pytestmark = [pytest.mark.slow, pytest.mark.faults, needs_data]
TRIALS, EPOCHS = 3, 3
# Trials one at a time (n_jobs=1): a launch of one trial runs it in the launching process
# (workers=2 is capped at the one job), as a single run is.
STUDY = ("-m", "hparams_search=mnist_cnn", f"hydra.sweeper.n_trials={TRIALS}",
         "hydra.sweeper.n_jobs=1", "hydra.launcher.workers=2", f"trainer.epochs={EPOCHS}",
         "dataset.train_limit=1000", "dataset.val_size=500", "tracking.log_model=false",
         "tracking.system_metrics=false")


@pytest.fixture(scope="module")
def killed_and_relaunched(tmp_path_factory, store_template):
    """The study killed (kill -9, the launching process only) after trial 1's first epoch,
    then launched again to the end: (uri, sweep dir, trial 1's run id, what the kill left)."""
    cwd = tmp_path_factory.mktemp("study")
    uri = copy_of(store_template, cwd / "mlflow.db")
    first = Training(*STUDY, cwd=cwd, MLFLOW_TRACKING_URI=uri)
    trial_1 = lambda: next(cwd.glob("multirun/*/1"), None)  # noqa: E731
    first.wait_until(lambda: trial_1() and (trial_1() / "backup").exists(), "trial 1's epoch 1")
    os.kill(first.proc.pid, signal.SIGKILL)
    first.finish()
    sweep_dir = trial_1().parent
    run_id = json.loads((trial_1() / "mlflow_run.json").read_text())["run_id"]
    client = MlflowClient(uri)
    left = {"parent": (sweep_dir / "mlflow_parent_run_id").read_text().strip(),
            "trial_1_status": client.get_run(run_id).info.status}
    again = run_cli("src.train", *STUDY, cwd=cwd, MLFLOW_TRACKING_URI=uri)
    assert again.returncode == 0, (again.stdout + again.stderr)[-3000:]
    return uri, sweep_dir, run_id, left, again.stdout + again.stderr


def trial_runs(uri: str) -> dict:
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("mnist_cnn_search").experiment_id
    runs = client.search_runs([experiment])
    by_trial: dict[str, list] = {}
    for run in runs:
        by_trial.setdefault(run.data.tags.get("optuna.trial", "parent"), []).append(run)
    return by_trial


def test_the_kill_takes_the_trial_down_and_the_relaunch_resumes_its_run(killed_and_relaunched):
    """As for a single run, kill -9 leaves the run RUNNING: nothing could tell the store."""
    _, _, run_id, left, output = killed_and_relaunched
    assert left["trial_1_status"] == "RUNNING"
    assert f"Resuming MLflow run {run_id}" in output


def test_the_relaunch_continues_the_study_to_n_trials_without_repeating_one(
        killed_and_relaunched):
    uri, sweep_dir, _, _, output = killed_and_relaunched
    study = optuna.load_study(study_name=studies.STUDY,
                              storage=f"sqlite:///{sweep_dir / studies.STORAGE}")
    assert [t.number for t in study.trials] == list(range(TRIALS))
    assert {t.state for t in study.trials} == {optuna.trial.TrialState.COMPLETE}
    assert "trial0-" not in output, "a trial completed before the kill ran again"
    runs = trial_runs(uri)
    assert sorted(runs) == ["0", "1", "2", "parent"]
    assert all(len(found) == 1 for found in runs.values()), {k: len(v) for k, v in runs.items()}
    for trial in study.trials:  # the objective is the run's validation accuracy, not test's
        [run] = runs[str(trial.number)]
        assert run.info.status == "FINISHED"
        assert trial.value == pytest.approx(run.data.metrics["val_accuracy"])
        assert run.info.run_name.startswith(f"trial{trial.number}-")


def test_the_interrupted_trial_resumes_into_its_run_and_the_parent_is_the_same(
        killed_and_relaunched):
    uri, sweep_dir, run_id, left, _ = killed_and_relaunched
    runs = trial_runs(uri)
    [resumed] = runs["1"]
    assert resumed.info.run_id == run_id
    assert_every_epoch_once(uri, run_id, EPOCHS)
    [parent] = runs["parent"]
    assert parent.info.run_id == left["parent"] == (sweep_dir / "mlflow_parent_run_id"
                                                   ).read_text().strip()
    assert parent.info.status == "FINISHED"
    assert {r.data.tags["mlflow.parentRunId"] for k, [r] in runs.items() if k != "parent"} == {
        parent.info.run_id}


def test_the_parent_records_the_best_trial_its_run_and_params(killed_and_relaunched):
    uri, sweep_dir, _, _, _ = killed_and_relaunched
    study = optuna.load_study(study_name=studies.STUDY,
                              storage=f"sqlite:///{sweep_dir / studies.STORAGE}")
    runs = trial_runs(uri)
    [parent] = runs["parent"]
    tags, best = parent.data.tags, study.best_trial
    assert tags["best.trial"] == str(best.number)
    assert tags["best.run_id"] == runs[str(best.number)][0].info.run_id
    assert {k: tags[f"best.{k}"] for k in best.params} == {
        k: str(v) for k, v in best.params.items()}
    assert parent.data.metrics["best_val_accuracy"] == pytest.approx(best.value)
    progress = MlflowClient(uri).get_metric_history(parent.info.run_id, "best_val_accuracy")
    steps = [point.step for point in progress]  # trials complete when each point was logged
    assert steps == sorted(set(steps)) and steps[-1] == TRIALS
    assert parent.data.params["search.optimizer.lr"] == "log-float [0.0001, 0.03]"
    assert "seed" not in best.params
    results = Path(sweep_dir / studies.RESULTS).read_text()
    assert f"best_run_id: {tags['best.run_id']}" in results


def test_the_parent_holds_what_mattered_after_the_relaunch(killed_and_relaunched, tmp_path):
    uri, sweep_dir, _, _, _ = killed_and_relaunched
    [parent] = trial_runs(uri)["parent"]
    study = optuna.load_study(study_name=studies.STUDY,
                              storage=f"sqlite:///{sweep_dir / studies.STORAGE}")
    importances = {key.removeprefix(insight.METRIC): value
                   for key, value in parent.data.metrics.items()
                   if key.startswith(insight.METRIC)}
    assert set(importances) == set(study.best_trial.params)
    assert sum(importances.values()) == pytest.approx(1.0)
    client = MlflowClient(uri)
    local = Path(client.download_artifacts(parent.info.run_id, insight.FOLDER, str(tmp_path)))
    assert sorted(p.name for p in local.iterdir()) == sorted([*insight.PLOTS, "importances.json"])
    assert all(matplotlib.image.imread(local / name).size for name in insight.PLOTS)
