"""A pruned study as a researcher runs one: trials side by side, each reporting its epochs to
the study from its worker process, hopeless ones stopped by the median pruner; the sweep killed
with kill -9 once a trial was pruned, then the same command again."""

import signal

import optuna
import pytest
from mlflow import MlflowClient

from src.search import pruning
from src.search import study as studies
from tests.conftest import copy_of, run_cli
from tests.processes import Training

pytestmark = [pytest.mark.slow, pytest.mark.faults]
TRIALS, EPOCHS = 6, 3
# Two trials at a time in two worker processes. With the sampler's seed 0 the first batch
# is one hopeless learning rate and one good one; the pruner then judges later trials
# against those two from their first epoch on.
STUDY = ("-m", "hydra/sweeper=optuna", "dataset=digits", "model=mlp",
         "optimizer.lr=choice(0.003,3.0)", f"hydra.sweeper.n_trials={TRIALS}",
         "hydra.sweeper.n_jobs=2", "hydra.launcher.workers=2", f"trainer.epochs={EPOCHS}",
         "hydra/sweeper/pruner=median", "hydra.sweeper.pruner.n_startup_trials=1",
         "hydra.sweeper.pruner.n_warmup_steps=0", "tracking.log_model=false",
         "tracking.system_metrics=false")


@pytest.fixture(scope="module")
def pruned_killed_relaunched(tmp_path_factory, store_template):
    """(uri, sweep dir, the trials done when the sweep was killed, the relaunch's output)."""
    cwd = tmp_path_factory.mktemp("pruned")
    uri = copy_of(store_template, cwd / "mlflow.db")
    first = Training(*STUDY, cwd=cwd, MLFLOW_TRACKING_URI=uri)
    first.wait_until(lambda: "pruned after epoch" in first.output, "a pruned trial")
    first.kill(signal.SIGKILL)  # the launching process and its workers
    first.finish()
    done = {run.data.tags["optuna.trial"]: run for run in trial_runs(uri)
            if run.info.status == "FINISHED" or pruning.was_pruned(run.data.tags)}
    again = run_cli("src.train", *STUDY, cwd=cwd, MLFLOW_TRACKING_URI=uri)
    assert again.returncode == 0, (again.stdout + again.stderr)[-3000:]
    [sweep_dir] = (cwd / "multirun").iterdir()
    return uri, sweep_dir, done, again.stdout + again.stderr


def trial_runs(uri: str) -> list:
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("digits-mlp").experiment_id
    return [run for run in client.search_runs([experiment]) if "optuna.trial" in run.data.tags]


def test_the_relaunch_runs_no_finished_or_pruned_trial_again(pruned_killed_relaunched):
    uri, sweep_dir, done, output = pruned_killed_relaunched
    assert any(pruning.was_pruned(run.data.tags) for run in done.values())
    for number in done:
        assert f"trial{number}-digits" not in output, f"trial {number} ran again"
    runs = trial_runs(uri)
    numbers = sorted(int(run.data.tags["optuna.trial"]) for run in runs)
    assert numbers == list(range(TRIALS)), "every trial has exactly one run"
    study = optuna.load_study(study_name=studies.STUDY, storage=studies.storage(sweep_dir))
    assert len(study.trials) == TRIALS
    assert {t.state for t in study.trials} <= {optuna.trial.TrialState.COMPLETE,
                                                optuna.trial.TrialState.PRUNED}


def test_a_pruned_trial_keeps_its_epochs_and_ends_killed_with_the_epoch_it_stopped_at(
        pruned_killed_relaunched):
    uri, sweep_dir, _, _ = pruned_killed_relaunched
    study = optuna.load_study(study_name=studies.STUDY, storage=studies.storage(sweep_dir))
    pruned = study.get_trials(states=(optuna.trial.TrialState.PRUNED,))
    assert pruned, "the hopeless learning rate was never pruned"
    runs = {int(run.data.tags["optuna.trial"]): run for run in trial_runs(uri)}
    client = MlflowClient(uri)
    for trial in pruned:
        run = runs[trial.number]
        epoch = pruning.was_pruned(run.data.tags)
        assert run.info.status == "KILLED" and epoch == max(trial.intermediate_values) < EPOCHS
        history = client.get_metric_history(run.info.run_id, "val_accuracy")
        assert [point.step for point in history] == list(range(1, epoch + 1))
        assert [point.value for point in history] == pytest.approx(
            [trial.intermediate_values[step] for step in range(1, epoch + 1)])
        assert "test_accuracy" not in run.data.metrics, "a pruned trial read the test set"
    for trial in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,)):
        run = runs[trial.number]
        assert run.info.status == "FINISHED" and not pruning.was_pruned(run.data.tags)
        assert sorted(trial.intermediate_values) == list(range(1, EPOCHS + 1))


def test_the_parent_counts_the_pruned_trials(pruned_killed_relaunched):
    uri, sweep_dir, _, _ = pruned_killed_relaunched
    study = optuna.load_study(study_name=studies.STUDY, storage=studies.storage(sweep_dir))
    client = MlflowClient(uri)
    parent = client.get_run((sweep_dir / "mlflow_parent_run_id").read_text().strip())
    pruned = study.get_trials(states=(optuna.trial.TrialState.PRUNED,))
    assert parent.data.tags["optuna.trials_pruned"] == str(len(pruned))
    assert parent.info.status == "FINISHED"
