"""What mattered in a study: fANOVA importances and Optuna's figures on the parent run, once per
count of trials complete, and the same summary from `python -m src.search <sweep dir>`."""

import json

import matplotlib.image
import optuna
import pytest
from mlflow import MlflowClient

from src.search import insight
from src.search.space import STORAGE, STUDY
from tests.conftest import ROOT, imported, run_cli, user_lines


def a_study(storage: str | None = None, trials: int = 16) -> optuna.Study:
    """`x` decides the value, `noise` barely, `kind` not at all."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=storage, study_name=STUDY, direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(lambda t: t.suggest_float("x", 0, 1) + 0.01 * t.suggest_float("noise", 0, 1)
                   + 0 * len(t.suggest_categorical("kind", ["a", "bb"])), n_trials=trials)
    return study


def test_the_parameter_that_decides_the_value_is_the_most_important():
    found = insight.insight(a_study())
    assert list(found.importances)[0] == "x" and found.importances["x"] > 0.9
    assert set(found.importances) == {"x", "noise", "kind"}
    assert sum(found.importances.values()) == pytest.approx(1.0)
    assert found.complete == 16 and found.best_params["x"] > 0.8


def test_one_trial_complete_has_a_best_but_no_importances():
    found = insight.insight(a_study(trials=1))
    assert found.importances == {} and "needs 2 trials complete" in "\n".join(found.lines())


def test_the_parent_holds_importances_once_per_count_and_figures_that_open(sqlite_uri, tmp_path):
    client = MlflowClient(sqlite_uri)
    experiment = client.create_experiment("study")
    parent = client.create_run(experiment).info.run_id
    study = a_study()
    insight.record(client, parent, study)
    insight.record(client, parent, study)  # a relaunch with nothing new
    metrics = client.get_run(parent).data.metrics
    found = insight.insight(study)
    assert {k.removeprefix(insight.METRIC): v for k, v in metrics.items()} == pytest.approx(
        found.importances)
    assert [p.step for p in client.get_metric_history(parent, "importance.x")] == [16]
    listed = {a.path for a in client.list_artifacts(parent, insight.FOLDER)}
    assert listed == {f"study/{name}" for name in [*insight.PLOTS, "importances.json"]}
    local = client.download_artifacts(parent, insight.FOLDER, str(tmp_path))
    for name in insight.PLOTS:
        height, width, _ = matplotlib.image.imread(f"{local}/{name}").shape
        assert height >= 300 and width >= 500
    assert json.loads((tmp_path / "study" / "importances.json").read_text())[
        "trials_complete"] == 16


def test_the_command_prints_the_summary_of_a_sweep_dirs_study(tmp_path):
    study = a_study(storage=f"sqlite:///{tmp_path / STORAGE}")
    result = run_cli("src.search", str(tmp_path), "--out", str(tmp_path / "figures"), cwd=ROOT)
    assert result.returncode == 0, result.stderr
    lines = insight.insight(study).lines()
    assert result.stdout.splitlines()[:len(lines)] == lines
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == sorted(insight.PLOTS)


def test_a_folder_without_a_study_is_refused_in_one_line_before_optuna_loads(tmp_path):
    result = run_cli("src.search", str(tmp_path), cwd=ROOT, PYTHONPROFILEIMPORTTIME="1")
    assert result.returncode == 1
    assert not imported(result.stderr) & {"optuna", "mlflow"}
    assert user_lines(result.stderr).strip() == (
        f"search: error: {tmp_path} holds no study ({STORAGE}): give the sweep dir an "
        "`-m hparams_search=...` launch printed")
