"""`python -m src.rerun <run id>` as a reviewer uses it, from another directory with only the
tracking URI: an exact repeat, overrides on top, a changed default kept at the run's value, and
ids that name no training run refused in one line."""

import re
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from mlflow import MlflowClient
from omegaconf import OmegaConf

from src.config import CONF_DIR, register
from tests.conftest import copy_of, run_cli

pytestmark = pytest.mark.slow
EPOCH_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")
TRAIN = ("dataset=digits", "model=mlp", "trainer.epochs=3", "tracking.log_model=false",
         "tracking.system_metrics=false")


@pytest.fixture(scope="module")
def original(tmp_path_factory, store_template):
    """A single run trained in one directory: (tracking URI, its run)."""
    cwd = tmp_path_factory.mktemp("original")
    uri = copy_of(store_template, cwd / "mlflow.db")
    result = run_cli("src.train", *TRAIN, cwd=cwd, MLFLOW_TRACKING_URI=uri)
    assert result.returncode == 0, result.stderr[-3000:]
    client = MlflowClient(uri)
    [run] = client.search_runs([client.get_experiment_by_name("digits-mlp").experiment_id])
    return uri, run


def rerun(uri: str, cwd: Path, *args: str):
    return run_cli("src.rerun", *args, cwd=cwd, MLFLOW_TRACKING_URI=uri)


def runs_of(uri: str, rerun_of: str) -> list:
    client = MlflowClient(uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(experiments, f"tags.rerun_of = '{rerun_of}'")


def history(uri: str, run_id: str) -> dict:
    client = MlflowClient(uri)
    return {key: [(m.step, m.value) for m in sorted(client.get_metric_history(run_id, key),
                                                   key=lambda m: m.step)] for key in EPOCH_KEYS}


def test_a_rerun_from_another_directory_repeats_every_epoch_exactly(original, tmp_path):
    uri, run = original
    result = rerun(uri, tmp_path, run.info.run_id)
    assert result.returncode == 0, result.stderr[-3000:]
    [again] = runs_of(uri, run.info.run_id)
    assert again.info.run_id != run.info.run_id and again.info.status == "FINISHED"
    assert history(uri, again.info.run_id) == history(uri, run.info.run_id)
    assert again.data.tags["config_hash"] == run.data.tags["config_hash"]
    assert again.data.metrics["test_accuracy"] == run.data.metrics["test_accuracy"]
    assert f"Rerun of {run.info.run_id}: python -m src.train dataset=digits" in result.stdout


def test_overrides_go_on_top_of_the_runs_command(original, tmp_path):
    uri, run = original
    result = rerun(uri, tmp_path, run.info.run_id, "seed=3", "trainer.epochs=1")
    assert result.returncode == 0, result.stderr[-3000:]
    [again] = [r for r in runs_of(uri, run.info.run_id) if r.data.params["seed"] == "3"]
    assert again.data.params["trainer.epochs"] == "1"
    assert again.data.params["model.name"] == "mlp" and again.data.params["dataset.name"] == (
        "digits")
    assert again.info.run_name == "digits-mlp-none-s3"


def logged_elsewhere(uri: str, tmp_path: Path, **tags: str) -> str:
    """A run logged as src.train logs one, from a config whose model.units default was [32]
    then: its `.hydra/` artifacts and its tags."""
    register()
    overrides = ["dataset=digits", "model=mlp", "trainer.epochs=1", "tracking.log_model=false"]
    with initialize_config_dir(CONF_DIR, version_base="1.3"):
        config = compose("config", overrides=overrides)
    config.model.units = [32]
    folder = tmp_path / "logged" / ".hydra"
    folder.mkdir(parents=True)
    OmegaConf.save(config, folder / "config.yaml")
    OmegaConf.save(OmegaConf.create(overrides), folder / "overrides.yaml")
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("digits-mlp").experiment_id
    run = client.create_run(experiment, tags={"config_hash": "0123456789ab", **tags,
                                              "hydra.overrides": " ".join(overrides)})
    client.log_artifacts(run.info.run_id, str(folder), ".hydra")
    client.set_terminated(run.info.run_id)
    return run.info.run_id


def test_a_default_changed_since_the_run_is_reported_and_the_runs_value_used(original,
                                                                              tmp_path):
    uri, _ = original
    run_id = logged_elsewhere(uri, tmp_path, **{"git.commit": "0" * 40, "git.dirty": "true"})
    result = rerun(uri, tmp_path, run_id)
    assert result.returncode == 0, result.stderr[-3000:]
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert warnings[0] == ("warning: today's defaults differ from the run's config in "
                           "model.units (run [32], today [128,64]): using the run's values")
    assert re.fullmatch(rf"warning: run {run_id} was trained at commit 000000000000, this "
                        r"checkout is at \w{12}: the code may differ", warnings[1])
    assert warnings[2] == (f"warning: run {run_id} was trained with uncommitted changes: they "
                           "are not here")
    [again] = runs_of(uri, run_id)
    assert again.data.params["model.units"] == "[32]"
    assert again.data.params["model.params"] == str(64 * 32 + 32 + 32 * 10 + 10)


@pytest.mark.parametrize(("kind", "message"), [
    ("unknown", r"run 0{32} not found in sqlite:///.*: check the id"),
    ("comparison", r"run \w+ is a comparison \(src\.compare\), not a training run"),
    ("parent", r"run \w+ is a sweep's parent run, not a training run: rerun one of its jobs"),
    ("foreign", r"run \w+ was not logged by this project's src\.train"),
])
def test_an_id_that_names_no_training_run_is_refused_and_creates_nothing(original, tmp_path,
                                                                         kind, message):
    uri, _ = original
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("digits-mlp").experiment_id
    tags = {"comparison": {"kind": "compare"}, "parent": {"sweep.launcher": "LocalLauncher",
                                                          "hydra.sweep_dir": "multirun/x"},
            "foreign": {"mlflow.user": "someone"}}.get(kind)
    run_id = "0" * 32 if tags is None else client.create_run(experiment, tags=tags).info.run_id
    before = len(client.search_runs([experiment]))
    result = rerun(uri, tmp_path, run_id)
    assert result.returncode == 1
    assert re.fullmatch(f"error: {message}.*", result.stderr.strip()), result.stderr
    assert len(client.search_runs([experiment])) == before
    assert list(tmp_path.iterdir()) == []
