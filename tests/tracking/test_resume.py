"""Launching the same command again: same dirs, same config identity, the same MLflow run."""

import pytest
from mlflow import MlflowClient

from src.tracking import lifecycle, resume
from src.tracking.identity import config_hash
from src.tracking.resume import JobDir

# `fashion_best` as it was until 2026-12-04 (CHANGELOG.md), the recipe its runs were logged with
FASHION_BEST_12_EPOCHS = ("experiment=fashion_best augment=none trainer.epochs=12 "
                          "trainer.ema=false trainer.tta=none dataset.final_fit=false")
# Hashes logged before datasets, models and regularizers came from the config (computed then
# by the code of that release): each command must still find its runs, and skip them.
BEFORE_OPEN_CONFIGS = [
    ("experiment=mnist_cnn reg=none", "76d59d3b49d1"),
    ("experiment=mnist_cnn reg=dropout", "6c56bf2ae2dc"),
    ("experiment=mnist_cnn reg=batchnorm", "f5dd43e49cc5"),
    ("experiment=fashion_mlp reg=none", "9021173e8b73"),
    ("experiment=fashion_mlp reg=batchnorm", "1ce83b37019d"),
    ("experiment=fashion_lenet5 reg=none", "2709cb76d64c"),
    ("experiment=fashion_lenet5 reg=dropout", "d207ffa11108"),
    ("experiment=fashion_lenet5 reg=batchnorm", "95361c3a7b16"),
    ("experiment=debug reg=none", "cc54aa57bf82"),
    ("experiment=debug reg=dropout", "3f9074ba9948"),
    ("experiment=debug reg=batchnorm", "96330803b17b"),
    ("experiment=mnist_best reg=none", "f1a00191c1d8"),
    ("experiment=mnist_best reg=dropout", "a876ec7b4e9a"),
    ("experiment=mnist_best reg=batchnorm", "946bf0d17b1a"),
    (FASHION_BEST_12_EPOCHS + " reg=none", "4d34840b3df7"),
    (FASHION_BEST_12_EPOCHS + " reg=dropout", "0909a1879485"),
    (FASHION_BEST_12_EPOCHS + " reg=batchnorm", "406c6f0a5836"),
    ("experiment=mnist_cnn", "76d59d3b49d1"),
    ("experiment=fashion_mlp", "9021173e8b73"),
    ("experiment=fashion_lenet5", "2709cb76d64c"),
    ("experiment=debug", "cc54aa57bf82"),
    ("experiment=mnist_best", "946bf0d17b1a"),
    (FASHION_BEST_12_EPOCHS, "406c6f0a5836"),
    ("", "76d59d3b49d1"),
    ("reg=dropout", "6c56bf2ae2dc"),
    ("reg=batchnorm", "f5dd43e49cc5"),
    ("dataset=fashion_mnist model=lenet5 reg=batchnorm trainer.epochs=15", "95361c3a7b16"),
    ("model=mlp", "47df138ca28f"),
    ("model=vgg reg=batchnorm", "28a49e1bfbd3"),
    ("optimizer=sgd optimizer.momentum=0.9", "f1d537a327ba"),
    ("optimizer=adamw", "22e3f70ae05e"),
    ("trainer.epochs=1 dataset.train_limit=2000", "cc54aa57bf82"),
    ("reg=dropout trainer.epochs=2 dataset.train_limit=3000", "fa84b09a611f"),
    ("augment=digits schedule=onecycle", "722955411241"),
    ("seed=3 reg=dropout", "098755932b98"),
]


def test_config_hash_ignores_where_and_how_verbosely_a_config_runs(compose):
    base = config_hash(compose())
    same = ("tracking.uri=http://elsewhere:5000", "trainer.verbose=0", "dataset.data_dir=/x",
            "tracking.experiment=other", "tracking.skip_finished=false")
    assert config_hash(compose(*same)) == base
    for override in ("reg=dropout", "seed=1", "trainer.epochs=3", "dataset.train_limit=10",
                     "model.dense=32", "reg=l2", "dataset=digits", "model=resnet"):
        assert config_hash(compose(override)) != base, override


@pytest.mark.parametrize(("command", "logged"), BEFORE_OPEN_CONFIGS,
                         ids=[c or "defaults" for c, _ in BEFORE_OPEN_CONFIGS])
def test_every_preset_hashes_as_its_runs_were_logged_before_configs_opened(compose, command,
                                                                           logged):
    assert config_hash(compose(*command.split())) == logged


def test_the_old_spellings_of_regularizers_hash_as_they_did(compose):
    """`reg=batchnorm reg.bn_placement=...` and `reg=dropout reg.batchnorm=true` were written
    differently then; the same regularization, spelt the new way, finds their runs."""
    placed = compose("reg=batchnorm", "reg.batchnorm.placement=before_activation")
    assert config_hash(placed) == "2b10eaa0a8bc"
    assert config_hash(compose("reg=[dropout,batchnorm]")) == "3d6a237a96b6"


def test_a_changed_model_or_dataset_description_is_a_new_config(compose):
    """The old shape is used only when the shipped YAML's meaning is unchanged: a dataset or
    model edited since hashes anew, so its runs are not mistaken for the old ones."""
    assert config_hash(compose("model.filters=[32,32]")) != config_hash(compose())
    assert config_hash(compose("dataset.loader.download=null")) != config_hash(compose())
    # The MLP never had a conv block: the old config's conv rate had no effect and is now 0.
    assert config_hash(compose("experiment=fashion_mlp", "reg=dropout")) != "901bbd23f2a7"


def test_output_dir_is_named_after_the_overrides_in_any_order(compose):
    one = compose("reg=dropout", "seed=1", hydra=True).hydra.run.dir
    assert compose("seed=1", "reg=dropout", hydra=True).hydra.run.dir == one
    assert compose("reg=dropout", hydra=True).hydra.run.dir != one
    assert one.startswith("outputs/")


def test_job_dir_resumes_only_the_config_it_recorded(tmp_path, sqlite_uri):
    experiment = lifecycle.experiment_id("relaunch")
    run_id = MlflowClient().create_run(experiment).info.run_id
    job = JobDir(tmp_path / "job")
    job.remember(run_id, "hash-a")
    job.backup.mkdir()
    assert job.interrupted_run("hash-a", experiment) == run_id
    assert job.interrupted_run("hash-b", experiment) is None  # another config's state...
    assert not job.backup.exists() and not job.record.exists()  # ...is dropped, not restored


def test_finished_run_is_found_by_config_hash_and_a_missing_store_is_not_created(tmp_path,
                                                                                  sqlite_uri):
    missing = f"sqlite:///{tmp_path / 'elsewhere' / 'mlflow.db'}"
    assert resume.finished_run(missing, "relaunch", "h") is None
    assert not (tmp_path / "elsewhere").exists()
    client = MlflowClient()
    experiment = lifecycle.experiment_id("relaunch")
    running = client.create_run(experiment, tags={"config_hash": "h"}).info.run_id
    assert resume.finished_run(sqlite_uri, "relaunch", "h") is None
    client.set_terminated(running)
    assert resume.finished_run(sqlite_uri, "relaunch", "h").info.run_id == running
    assert resume.finished_run(sqlite_uri, "relaunch", "other") is None


def test_a_sweep_dir_records_its_parent_run(tmp_path):
    assert resume.parent_run_id(tmp_path / "sweep") is None
    resume.record_parent_run(tmp_path / "sweep", "abc123")
    assert resume.parent_run_id(tmp_path / "sweep") == "abc123"
