"""Runs shaped like src.train's, logged to temp SQLite stores; every expectation in these tests
is computed from the numbers below with scipy."""

import shutil
import time

import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric, Param

from src.compare import cli, groups, selection, stats
from tests.conftest import copy_of

# Per-seed test accuracy we log.
TEST_ACC = {"none": [0.9810, 0.9820, 0.9830], "dropout": [0.9812, 0.9818, 0.9836],
            "batchnorm": [0.9880, 0.9886, 0.9891]}
VAL_ACC = [0.970, 0.985, 0.980]  # peak at epoch 2
LOSS, VAL_LOSS = [0.30, 0.10, 0.05], [0.20, 0.08, 0.09]  # last-epoch gap: 0.05 - 0.09
SWEEP = "multirun/3f9c0a1b2d4e"


def log_run(client, exp_id, reg, seed, test_acc, dataset="mnist", sweep=SWEEP, metrics=None,
            tags=None, epochs=3):
    """A finished run shaped like src.train's: params, per-epoch metrics, final test metric."""
    run = client.create_run(exp_id, run_name=f"{dataset}-cnn-{reg}-s{seed}", tags={
        "hydra.sweep_dir": sweep, "hydra.overrides": f"reg={reg} seed={seed} trainer.epochs=3",
        **(tags or {})})
    params = {"dataset.name": dataset, "model.name": "cnn", "reg.name": reg, "seed": seed,
              "model.params": 121930, "trainer.epochs": epochs}
    now = int(time.time() * 1000)
    curves = {"loss": LOSS, "accuracy": [0.9, 0.97, 0.99], "val_loss": VAL_LOSS,
              "val_accuracy": [v + seed / 1000 for v in VAL_ACC], "epoch_seconds": [4.0, 2.0, 3.0]}
    logged = [Metric(k, v, now, step) for k, vs in curves.items() for step, v in enumerate(vs, 1)]
    logged += [Metric("test_accuracy", test_acc, now, 0)]
    client.log_batch(run.info.run_id, params=[Param(k, str(v)) for k, v in params.items()],
                     metrics=[m for m in logged if metrics is None or m.key in metrics])
    client.set_terminated(run.info.run_id)
    return run.info.run_id


@pytest.fixture(scope="session")
def templates(tmp_path_factory, store_template):
    """Store files made once: one with an empty experiment `mnist-cnn`, one with three seeds
    each of none, dropout and batchnorm."""
    folder = tmp_path_factory.mktemp("templates")
    client = MlflowClient(copy_of(store_template, folder / "empty.db"))
    client.create_experiment("mnist-cnn")
    shutil.copy(folder / "empty.db", folder / "sweep.db")
    client = MlflowClient(f"sqlite:///{folder / 'sweep.db'}")
    exp_id = client.get_experiment_by_name("mnist-cnn").experiment_id
    for reg, accs in TEST_ACC.items():
        for seed, acc in enumerate(accs):
            log_run(client, exp_id, reg, seed, acc)
    return folder


def copy_store(templates, name, tmp_path):
    shutil.copy(templates / name, tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    return uri, client, client.get_experiment_by_name("mnist-cnn").experiment_id


@pytest.fixture
def store(templates, tmp_path):
    """(uri, client, experiment id) of a store of its own with the three-way, three-seed sweep."""
    return copy_store(templates, "sweep.db", tmp_path)


@pytest.fixture
def empty_store(templates, tmp_path):
    """(uri, client, experiment id) of a store holding only the experiment `mnist-cnn`."""
    return copy_store(templates, "empty.db", tmp_path)


def selected(uri, *args):
    """The runs `python -m src.compare ARGS` selects, and the config it parsed."""
    cfg = cli.parse(["--tracking-uri", uri, "--no-log", *args])
    client = selection.open_client(uri)
    return selection.load(client, selection.experiment(client, cfg.selection), cfg.selection), cfg


def groups_of(uri, *args):
    """The per-group statistics `python -m src.compare ARGS` reports, without writing anything."""
    records, cfg = selected(uri, *args)
    grouped = groups.group(records, cfg.by)
    return {name: stats.summarize(name, members) for name, members in grouped.items()}
