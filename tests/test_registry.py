"""Registering the best run (by validation accuracy, never test) under an alias, all or
nothing; resolving what `serve` is given, with one-line errors for what does not exist."""

import keras
import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient

from src.registry import core
from src.tracking import logged_model
from tests.conftest import run_cli

IMAGES = np.zeros((2, 28, 28, 1), "float32")


def tiny_model() -> keras.Model:
    return keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                             keras.layers.Dense(10, activation="softmax")])


def training_run(name: str, val: float, test: float, with_model: bool = True, **params) -> str:
    """A finished run shaped like src.train's: a seed param, metrics, a logged model."""
    with mlflow.start_run(run_name=name) as run:
        mlflow.log_params({"seed": 0, **params})
        mlflow.log_metric("val_accuracy", val, step=1)
        mlflow.log_metric("test_accuracy", test)
        if with_model:
            logged_model.log(tiny_model(), IMAGES, step=1)
    return run.info.run_id


@pytest.fixture
def store(sqlite_uri):
    """Experiment mnist-cnn with three runs: the best on validation is not the best on test."""
    mlflow.set_experiment("mnist-cnn")
    scores = {"dropout": (0.991, 0.989), "none": (0.985, 0.993), "batchnorm": (0.980, 0.990)}
    ids = {reg: training_run(reg, val=val, test=test, **{"reg.name": reg})
           for reg, (val, test) in scores.items()}
    return MlflowClient(sqlite_uri), sqlite_uri, ids


def cli(uri: str, *args: str, cwd):
    return run_cli("src.registry", "--tracking-uri", uri, *args, cwd=cwd)


def test_register_picks_the_best_validation_accuracy_and_the_alias_loads(store, tmp_path):
    client, uri, ids = store
    result = cli(uri, "register", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    version = client.get_model_version_by_alias("mnist-cnn", "champion")
    assert version.run_id == ids["dropout"]  # best on validation, though `none` is best on test
    assert version.tags["chosen_by"] == "val_accuracy" and version.tags["among_runs"] == "3"
    assert "models:/mnist-cnn@champion" in result.stdout
    loaded = mlflow.pyfunc.load_model("models:/mnist-cnn@champion")
    assert loaded.metadata.model_id == core.logged_model_id(client.get_run(ids["dropout"]))
    assert np.asarray(loaded.predict(IMAGES)).shape == (2, 10)


def test_registering_again_moves_the_alias_to_a_new_version(store):
    client, uri, _ = store
    runs = core.candidates(client, core.Selection(uri, "mnist-cnn"), None)
    first = core.register(client, runs, "mnist-cnn", "champion")
    second = core.register(client, runs[1:], "mnist-cnn", "champion")
    assert (str(first.version), str(second.version)) == ("1", "2")
    assert str(client.get_model_version_by_alias("mnist-cnn", "champion").version) == "2"


def test_a_filter_or_a_comparison_narrows_the_choice(store):
    client, uri, ids = store
    sel = core.Selection(uri, "mnist-cnn", {"reg": "batchnorm"})
    assert [r.info.run_id for r in core.candidates(client, sel, None)] == [ids["batchnorm"]]
    experiment = client.get_experiment_by_name("mnist-cnn").experiment_id
    comparison = client.create_run(experiment, tags={
        "kind": "comparison", "compare.filter": "attributes.status = 'FINISHED' "
                                                "AND params.`reg.name` = 'none'"}).info.run_id
    found = core.candidates(client, sel, comparison)
    assert [r.info.run_id for r in found] == [ids["none"]]


def test_a_selection_with_no_finished_run_is_one_line_and_registers_nothing(store, tmp_path):
    client, uri, _ = store
    result = cli(uri, "register", "--filter", "seed=99", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("registry: error: no finished training run")
    assert len(result.stderr.strip().splitlines()) == 1
    assert client.search_registered_models() == []


def test_a_failing_alias_leaves_nothing_half_registered(store):
    client, uri, _ = store
    runs = core.candidates(client, core.Selection(uri, "mnist-cnn"), None)
    with pytest.raises(core.RegistryError, match="nothing was kept"):
        core.register(client, runs, "mnist-cnn", "latest")  # reserved by MLflow
    assert client.search_registered_models() == []
    core.register(client, runs, "mnist-cnn", "champion")
    with pytest.raises(core.RegistryError, match="nothing was kept"):
        core.register(client, runs, "mnist-cnn", "v7")  # MLflow reads v<n> as a version
    assert [str(v.version) for v in client.search_model_versions("name = 'mnist-cnn'")] == ["1"]


def test_the_best_run_without_a_model_is_refused(sqlite_uri):
    mlflow.set_experiment("mnist-cnn")
    training_run("no-model", val=0.999, test=0.99, with_model=False)
    client = MlflowClient(sqlite_uri)
    runs = core.candidates(client, core.Selection(sqlite_uri, "mnist-cnn"), None)
    with pytest.raises(core.RegistryError, match="logged no model"):
        core.register(client, runs, "mnist-cnn", "champion")
    assert client.search_registered_models() == []


def test_serve_resolves_what_exists_and_names_what_does_not(store, tmp_path):
    client, uri, ids = store
    model_id = core.logged_model_id(client.get_run(ids["none"]))
    assert core.resolve(client, ids["none"]) == f"models:/{model_id}"
    assert core.resolve(client, f"runs:/{ids['none']}/model") == f"models:/{model_id}"
    core.register(client, core.candidates(client, core.Selection(uri, "mnist-cnn"), None),
                  "mnist-cnn", "champion")
    assert core.resolve(client, "models:/mnist-cnn@champion").startswith("models:/m-")
    assert core.resolve(client, "models:/mnist-cnn/1").startswith("models:/m-")
    with pytest.raises(core.RegistryError, match="aliases: @champion"):
        core.resolve(client, "models:/mnist-cnn@best")
    with pytest.raises(core.RegistryError, match="no registered model 'nope'"):
        core.resolve(client, "models:/nope@champion")
    bare = training_run("bare", val=0.5, test=0.5, with_model=False)
    result = cli(uri, "serve", bare, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == (f"registry: error: run {bare} logged no model (trained "
                                     "with tracking.log_model=false): nothing to serve")
