"""Several seeds a trial: how a trial's seeds are numbered, grouped in rounds and pruned, and
what the study records (end to end, as subprocesses: tests/tracking/test_seeded_study.py).

The runner is driven here by a launch that answers each job at once with a value, as Hydra's
launcher returns a finished job's, so that the rounds and the study's bookkeeping are seen
without training; the study and the MLflow runs a kill leaves are real (temp SQLite)."""

import optuna
import pytest
from hydra.core.utils import JobReturn, JobStatus
from mlflow import MlflowClient
from optuna.pruners import MedianPruner, WilcoxonPruner

from src.errors import ConfigError
from src.search import seeds
from src.search.pruning import PRUNED_TAG, Pruned
from src.search.space import TRIAL_TAG
from src.search.trials import TrialJobs, running

States = optuna.trial.TrialState
pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")


class Jobs:
    """A launch whose job for (trial, seed index) returns `answer(trial, seed index)`."""

    def __init__(self, k: int, answer):
        self.k, self.answer, self.launched = k, answer, []

    def __call__(self, overrides, numbers):
        assert len(overrides) == len(numbers)
        returns = []
        for number in numbers:
            seat = divmod(number, self.k)
            self.launched.append(seat)
            value = self.answer(*seat)
            if isinstance(value, Exception):
                returns.append(JobReturn(status=JobStatus.FAILED, _return_value=value))
            else:
                returns.append(JobReturn(status=JobStatus.COMPLETED, _return_value=value))
        return returns


def study_with(pruner=None) -> optuna.Study:
    study = optuna.create_study(direction="maximize", pruner=pruner)
    study.pruner = pruner
    return study


def ask(study: optuna.Study, count: int) -> list:
    lr = optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)
    return [study.ask({"optimizer.lr": lr}) for _ in range(count)]


def runner(study, k, jobs) -> TrialJobs:
    return TrialJobs(study, k, lambda params, j: [f"seed={j}"], jobs)


def test_seed_j_of_trial_n_is_job_n_times_k_plus_j_and_a_plain_study_keeps_trial_n_as_job_n():
    assert [seeds.job_number(trial, j, 3) for trial in (0, 1) for j in range(3)] == [
        0, 1, 2, 3, 4, 5]
    assert [seeds.job_number(trial, 0, 1) for trial in range(3)] == [0, 1, 2]


def test_each_seed_replaces_the_fixed_seed_with_the_next_one():
    fixed = ["dataset=digits", "seed=5", "optimizer.lr=0.01"]
    assert seeds.seed_overrides(fixed, 5, 2, k=3) == ["dataset=digits", "optimizer.lr=0.01",
                                                      "seed=7"]
    assert seeds.seed_overrides(fixed, 5, 0, k=1) == fixed


def test_rounds_let_each_pruner_stop_a_trial_before_its_other_seeds():
    assert seeds.rounds(3, None) == [[0, 1, 2]]  # no pruner: all seeds side by side
    assert seeds.rounds(3, MedianPruner()) == [[0], [1, 2]]  # seed 0's curve, then the rest
    assert seeds.rounds(3, WilcoxonPruner()) == [[0], [1], [2]]  # a test after every seed
    assert seeds.rounds(1, MedianPruner()) == [[0]]


@pytest.mark.parametrize(("settings", "k", "message"), [
    ({}, 1, "WilcoxonPruner compares trials seed by seed: set "
            "hydra.sweeper.seeds_per_trial >= 2"),
    ({"p_threshold": 0.1}, 4, "only after 4 of its seeds .* use seeds_per_trial >= 5 or a "
                              "larger p_threshold"),
    ({"p_threshold": 0.3, "n_startup_steps": 3}, 3, "only after 3 of its seeds"),
])
def test_a_seed_by_seed_pruner_that_could_never_save_a_seed_is_refused(settings, k, message):
    with pytest.raises(ConfigError, match=message):
        seeds.check(WilcoxonPruner(**settings), k)


def test_a_seed_by_seed_pruner_that_can_stop_early_is_accepted():
    seeds.check(WilcoxonPruner(p_threshold=0.1), 5)  # 2**-4 < 0.1: after 4 of 5 seeds
    seeds.check(WilcoxonPruner(p_threshold=0.3), 3)  # 2**-2 < 0.3: after 2 of 3 seeds
    seeds.check(MedianPruner(), 3)


def test_a_trials_value_is_its_seeds_mean_with_each_seed_and_the_spread_beside_it():
    study = study_with()
    values = {(0, 0): 0.90, (0, 1): 0.94, (0, 2): 0.92, (1, 0): 0.80, (1, 1): 0.82,
              (1, 2): 0.84}
    jobs = Jobs(3, lambda trial, j: values[trial, j])
    runner(study, 3, jobs).run(ask(study, 2))
    assert sorted(jobs.launched) == sorted(values)
    first, second = study.trials
    assert first.value == pytest.approx(0.92) and second.value == pytest.approx(0.82)
    assert first.user_attrs["val_accuracy_per_seed"] == [0.90, 0.94, 0.92]
    assert first.user_attrs["val_accuracy_std"] == pytest.approx(0.02)


def test_wilcoxon_prunes_a_trial_worse_seed_by_seed_before_its_last_seeds():
    pruner = WilcoxonPruner(p_threshold=0.3)  # 2 seeds all worse: p = 0.25
    study = study_with(pruner)
    good = Jobs(3, lambda trial, j: 0.95 + 0.01 * j)
    runner(study, 3, good).run(ask(study, 1))
    worse = Jobs(3, lambda trial, j: 0.60 + 0.01 * j)
    outcome = runner(study, 3, worse).run(ask(study, 1))
    assert worse.launched == [(1, 0), (1, 1)], "seed 2 of a pruned trial never trains"
    assert study.trials[1].state == States.PRUNED
    assert study.trials[1].intermediate_values == {0: 0.60, 1: 0.61}
    assert outcome.pruned_between_seeds == {1: 2}


def test_wilcoxon_keeps_a_trial_that_is_not_worse_on_every_seed():
    pruner = WilcoxonPruner(p_threshold=0.3)
    study = study_with(pruner)
    runner(study, 3, Jobs(3, lambda trial, j: 0.95)).run(ask(study, 1))
    mixed = Jobs(3, lambda trial, j: (0.90, 0.97, 0.94)[j])
    runner(study, 3, mixed).run(ask(study, 1))
    assert len(mixed.launched) == 3 and study.trials[1].state == States.COMPLETE


def test_a_curve_pruner_judges_seed_0_and_a_pruned_trial_trains_no_other_seed():
    pruner = MedianPruner()
    study = study_with(pruner)
    jobs = Jobs(3, lambda trial, j: Pruned(1, 0.1) if trial == 1 else 0.9)
    runner(study, 3, jobs).run(ask(study, 2))
    assert sorted(jobs.launched) == [(0, 0), (0, 1), (0, 2), (1, 0)]
    assert [trial.state for trial in study.trials] == [States.COMPLETE, States.PRUNED]


def test_a_failed_seed_fails_its_trial_and_is_returned_for_the_failure_rate():
    study = study_with()
    jobs = Jobs(2, lambda trial, j: RuntimeError("out of memory") if j == 1 else 0.9)
    outcome = runner(study, 2, jobs).run(ask(study, 1))
    assert study.trials[0].state == States.FAIL and len(outcome.failed) == 1


def test_a_relaunch_reads_the_finished_seeds_and_trains_only_the_rest(sqlite_uri):
    study = study_with()
    ask(study, 2)  # the kill left both trials RUNNING
    client = MlflowClient(sqlite_uri)
    experiment = client.create_experiment("study")

    def left(trial: int, j: int, status: str, **tags: str):
        run = client.create_run(experiment, tags={TRIAL_TAG: str(trial),
                                                  seeds.SEED_TAG: str(j), **tags})
        client.log_metric(run.info.run_id, "val_accuracy", 0.5 + 0.1 * j)
        client.set_terminated(run.info.run_id, status)
        return (trial, j), client.get_run(run.info.run_id)

    runs = dict([left(0, 0, "FINISHED"), left(0, 1, "KILLED"),
                 left(1, 0, "KILLED", **{PRUNED_TAG: "1"})])
    jobs = Jobs(2, lambda trial, j: 0.7)
    runner(study, 2, jobs).run(running(study), runs)
    assert jobs.launched == [(0, 1)], "the killed seed resumes; nothing else trains again"
    assert study.trials[0].value == pytest.approx((0.5 + 0.7) / 2)
    assert study.trials[1].state == States.PRUNED
