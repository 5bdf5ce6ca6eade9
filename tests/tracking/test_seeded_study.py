"""A study of three seeds a trial, as a researcher runs one: two trials side by side, their
seeds in rounds, seed by seed against the best trial (Wilcoxon), killed with kill -9 while the
second batch trains, then the same command again. (The rounds and the pruners between seeds:
tests/test_trial_seeds.py.)"""

import os
import signal
import statistics

import optuna
import pytest
from mlflow import MlflowClient

from src.search import seeds
from src.search import study as studies
from tests.conftest import copy_of, run_cli
from tests.processes import Training

pytestmark = [pytest.mark.slow, pytest.mark.faults]
TRIALS, K, EPOCHS, SEED = 4, 3, 20, 5
# With the sampler's seed 0 the first batch is one learning rate that cannot train (trial 0)
# and one that does (1); the second batch is two that cannot, which the Wilcoxon pruner (at
# p_threshold 0.3, after 2 seeds all worse than the best trial's: p = 0.25) stops before their
# third seed.
STUDY = ("-m", "hydra/sweeper=optuna", "dataset=digits", "model=mlp",
         "optimizer.lr=choice(0.003,3.0)", f"hydra.sweeper.n_trials={TRIALS}",
         f"hydra.sweeper.seeds_per_trial={K}", "hydra/sweeper/pruner=wilcoxon",
         "hydra.sweeper.pruner.p_threshold=0.3", "hydra.sweeper.n_jobs=2",
         "hydra.launcher.workers=2", f"trainer.epochs={EPOCHS}", f"seed={SEED}",
         "tracking.log_model=false", "tracking.system_metrics=false")
COMPLETE, PRUNED = (0, 1), (2, 3)


@pytest.fixture(scope="module")
def seeded_study(tmp_path_factory, store_template):
    """The study killed (the launching process only) after trial 2's first epoch, then
    launched again: (uri, sweep dir, the runs the kill left, the relaunch's output)."""
    cwd = tmp_path_factory.mktemp("seeded")
    uri = copy_of(store_template, cwd / "mlflow.db")
    first = Training(*STUDY, cwd=cwd, MLFLOW_TRACKING_URI=uri)
    first.wait_until(lambda: f"trial2-digits-mlp-none-s{SEED} epoch 1/" in first.output,
                     "trial 2's first epoch")  # its other epochs take seconds: it is killed
    os.kill(first.proc.pid, signal.SIGKILL)
    first.finish()
    left = {key: run.info.status for key, run in runs_by_seat(uri).items()}
    again = run_cli("src.train", *STUDY, cwd=cwd, MLFLOW_TRACKING_URI=uri)
    assert again.returncode == 0, (again.stdout + again.stderr)[-3000:]
    [sweep_dir] = (cwd / "multirun").iterdir()
    return uri, sweep_dir, left, again.stdout + again.stderr


def runs_by_seat(uri: str) -> dict:
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("digits-mlp").experiment_id
    return {(int(run.data.tags["optuna.trial"]), int(run.data.tags[seeds.SEED_TAG])): run
            for run in client.search_runs([experiment]) if "optuna.trial" in run.data.tags}


def test_each_trial_trains_its_seeds_as_child_runs_tagged_with_the_trial(seeded_study):
    uri, sweep_dir, _, _ = seeded_study
    runs = runs_by_seat(uri)
    assert sorted(runs) == [(trial, j) for trial in COMPLETE for j in range(K)] + [
        (trial, j) for trial in PRUNED for j in range(2)], "a pruned trial's third seed never ran"
    parent = (sweep_dir / "mlflow_parent_run_id").read_text().strip()
    for (trial, j), run in runs.items():
        assert run.info.status == "FINISHED"
        assert run.data.params["seed"] == str(SEED + j)
        assert run.data.tags["hydra.job_num"] == str(seeds.job_number(trial, j, K))
        assert run.data.tags["mlflow.parentRunId"] == parent
        assert run.info.run_name.startswith(f"trial{trial}-")


def test_a_trials_value_is_the_mean_of_its_seeds_and_their_spread_is_recorded(seeded_study):
    uri, sweep_dir, _, _ = seeded_study
    runs = runs_by_seat(uri)
    study = optuna.load_study(study_name=studies.STUDY, storage=studies.storage(sweep_dir))
    for number in COMPLETE:
        trial = study.trials[number]
        values = [runs[number, j].data.metrics["val_accuracy"] for j in range(K)]
        assert trial.state == optuna.trial.TrialState.COMPLETE
        assert trial.value == pytest.approx(statistics.fmean(values))
        assert trial.user_attrs["val_accuracy_per_seed"] == pytest.approx(values)
        assert trial.user_attrs["val_accuracy_std"] == pytest.approx(statistics.stdev(values))
    parent = MlflowClient(uri).get_run((sweep_dir / "mlflow_parent_run_id").read_text().strip())
    best = study.best_trial
    assert best.number == 1
    assert parent.data.tags["optuna.seeds_per_trial"] == str(K)
    assert parent.data.tags["best.run_ids"] == ",".join(
        runs[best.number, j].info.run_id for j in range(K))
    assert float(parent.data.tags["best.val_accuracy_std"]) == pytest.approx(
        best.user_attrs["val_accuracy_std"])


def test_wilcoxon_prunes_the_hopeless_trials_after_two_seeds_paired_with_the_best(seeded_study):
    uri, sweep_dir, _, _ = seeded_study
    runs = runs_by_seat(uri)
    study = optuna.load_study(study_name=studies.STUDY, storage=studies.storage(sweep_dir))
    for number in PRUNED:
        assert study.trials[number].state == optuna.trial.TrialState.PRUNED
        assert study.trials[number].intermediate_values == pytest.approx(
            {j: runs[number, j].data.metrics["val_accuracy"] for j in range(2)})
        assert {runs[number, j].data.tags[seeds.PRUNED_AFTER_TAG] for j in range(2)} == {"2"}
    parent = MlflowClient(uri).get_run((sweep_dir / "mlflow_parent_run_id").read_text().strip())
    assert parent.data.tags["optuna.trials_pruned"] == "2"


def test_the_relaunch_resumes_the_killed_seeds_and_trains_no_finished_one(seeded_study):
    uri, _, left, output = seeded_study
    assert all(left[trial, j] == "FINISHED" for trial in COMPLETE for j in range(K))
    assert left[2, 0] != "FINISHED"
    for trial in COMPLETE:
        assert f"trial{trial}-digits" not in output, f"trial {trial} trained again"
    assert "Resuming interrupted trial(s) [2, 3]" in output
    assert f"Resuming MLflow run {runs_by_seat(uri)[2, 0].info.run_id}" in output


def test_a_relaunch_with_another_count_of_seeds_is_refused_before_any_run(seeded_study):
    uri, sweep_dir, _, _ = seeded_study
    before = runs_by_seat(uri)
    refused = run_cli("src.train", *STUDY, "hydra.sweeper.seeds_per_trial=5",
                      cwd=sweep_dir.parents[1], MLFLOW_TRACKING_URI=uri)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines()[-1] == (
        f"error: the study in {sweep_dir.relative_to(sweep_dir.parents[1])} trains {K} seed(s) "
        "a trial and numbers its jobs by it; this command asks 5: relaunch it with "
        f"hydra.sweeper.seeds_per_trial={K}, or use another hydra.sweep.dir")
    assert runs_by_seat(uri).keys() == before.keys()
