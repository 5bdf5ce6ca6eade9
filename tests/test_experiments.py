"""The presets in conf/experiment/ are the notebooks: each composes to the notebook's values,
and all of them train end to end in one real multirun."""

import pytest
from mlflow import MlflowClient

from src.choices import Split
from src.config import reg_label
from tests.conftest import ROOT, run_cli

PRESETS = sorted(path.stem for path in (ROOT / "conf" / "experiment").glob("*.yaml"))
REGS = sorted(path.stem for path in (ROOT / "conf" / "reg").glob("*.yaml"))


def test_the_notebook_presets_exist():
    assert {"mnist_cnn", "fashion_mlp", "fashion_lenet5", "debug"} <= set(PRESETS)


@pytest.mark.parametrize("reg", REGS)
@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_composes_with_every_reg_into_its_own_experiment(compose, preset, reg):
    cfg = compose(f"experiment={preset}", f"reg={reg}")
    assert reg_label(cfg.reg) == reg
    assert cfg.tracking.experiment == preset


def test_mnist_cnn_is_the_mnist_notebook(compose):
    cfg = compose("experiment=mnist_cnn")
    assert (cfg.dataset.name, cfg.model["name"], cfg.reg) == ("mnist", "cnn", {})
    assert (cfg.optimizer.name, cfg.optimizer.lr) == ("adam", 1e-3)
    assert (cfg.trainer.epochs, cfg.trainer.batch_size) == (10, 32)
    assert (cfg.dataset.split, cfg.dataset.val_size) == (Split.last, 10000)
    dropout = compose("experiment=mnist_cnn", "reg=dropout").reg["dropout"]
    assert (dropout["conv"], dropout["dense"]) == (0.25, 0.5)


def test_fashion_mlp_is_homework_part_3(compose):
    cfg = compose("experiment=fashion_mlp")
    assert (cfg.dataset.name, cfg.model["name"], cfg.reg) == ("fashion_mnist", "mlp", {})
    assert cfg.optimizer.name == "adam"
    assert (cfg.trainer.epochs, cfg.trainer.batch_size) == (20, 128)
    assert (cfg.dataset.split, cfg.dataset.val_size, cfg.dataset.split_seed) == (
        Split.random, 0.2, 42)


@pytest.mark.parametrize(("reg", "epochs"), [("none", 10), ("dropout", 15), ("batchnorm", 15)])
def test_fashion_lenet5_epochs_follow_the_reg_choice(compose, reg, epochs):
    cfg = compose("experiment=fashion_lenet5", f"reg={reg}")
    assert (cfg.dataset.name, cfg.model["name"], cfg.optimizer.name) == (
        "fashion_mnist", "lenet5", "adam")
    assert (cfg.trainer.epochs, cfg.trainer.batch_size) == (epochs, 32)
    assert (cfg.dataset.split, cfg.dataset.val_size, cfg.dataset.split_seed) == (
        Split.random, 0.2, 42)


def test_fashion_lenet5_dropout_is_one_half_everywhere_only_in_the_preset(compose):
    reg = compose("experiment=fashion_lenet5", "reg=dropout").reg
    assert list(reg) == ["dropout"] and (reg["dropout"]["conv"], reg["dropout"]["dense"]) == (
        0.5, 0.5)
    plain = compose("model=lenet5", "dataset=fashion_mnist", "reg=dropout").reg["dropout"]
    assert (plain["conv"], plain["dense"]) == (0.25, 0.5)
    bn = compose("experiment=fashion_lenet5", "reg=batchnorm").reg
    assert bn["batchnorm"]["placement"] is None  # null: lenet5's conv -> BN -> relu


def test_a_list_of_regularizers_gets_no_preset_specialization(compose):
    """Hydra names no single choice for reg=[...]: the preset's own values apply."""
    cfg = compose("experiment=fashion_lenet5", "reg=[dropout,batchnorm]")
    assert cfg.trainer.epochs == 10 and cfg.reg["dropout"]["conv"] == 0.25


def test_command_line_values_beat_the_preset(compose):
    cfg = compose("experiment=fashion_lenet5", "reg=dropout", "trainer.epochs=3",
                  "reg.dropout.dense=0.2")
    dropout = cfg.reg["dropout"]
    assert (cfg.trainer.epochs, dropout["conv"], dropout["dense"]) == (3, 0.5, 0.2)
    assert compose("experiment=fashion_lenet5", "model=cnn").model["name"] == "cnn"


@pytest.mark.parametrize(("preset", "dataset", "augment", "epochs"), [
    ("mnist_best", "mnist", "digits", 10), ("fashion_best", "fashion_mnist", "clothes", 18)])
def test_strong_presets_compose_the_documented_recipe(compose, preset, dataset, augment, epochs):
    cfg = compose(f"experiment={preset}")
    assert (cfg.dataset.name, cfg.model["name"], reg_label(cfg.reg), cfg.augment.name) == (
        dataset, "vgg", "batchnorm", augment)
    assert (cfg.optimizer.name, cfg.optimizer.lr, cfg.optimizer.weight_decay) == (
        "adamw", 0.003, 0.05)
    assert (cfg.schedule.name, cfg.trainer.label_smoothing) == ("onecycle", 0.1)
    assert (cfg.trainer.epochs, cfg.trainer.batch_size) == (epochs, 128)
    assert cfg.dataset.split == ("last" if dataset == "mnist" else "random")


def test_fashion_best_is_a_final_fit_on_mirrored_images_scored_averaged_and_mirrored(compose):
    cfg = compose("experiment=fashion_best")
    assert (cfg.augment.horizontal_flip, cfg.augment.shift, cfg.augment.erasing) == (True, 0, 0)
    assert (cfg.trainer.ema, cfg.trainer.tta, cfg.dataset.final_fit) == (True, "flip", True)
    chosen_on = compose("experiment=fashion_best", "dataset.final_fit=false").dataset
    assert (chosen_on.final_fit, chosen_on.val_size, chosen_on.split_seed) == (False, 0.2, 42)


def test_debug_is_one_epoch_on_a_small_subset(compose):
    cfg = compose("experiment=debug")
    assert (cfg.trainer.epochs, cfg.dataset.train_limit) == (1, 2000)


@pytest.mark.slow
def test_every_preset_trains_in_one_multirun(tmp_path, sqlite_uri):
    uri = sqlite_uri
    result = run_cli(
        "src.train", "-m", "experiment=glob(*)", "trainer.epochs=1", "dataset.train_limit=500",
        cwd=tmp_path, MLFLOW_TRACKING_URI=uri,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    client = MlflowClient(uri)
    for preset in PRESETS:
        experiment = client.get_experiment_by_name(preset)
        assert experiment is not None, f"no MLflow experiment for preset {preset}"
        runs = client.search_runs([experiment.experiment_id])
        assert [r.info.status for r in runs] == ["FINISHED"], preset
        params = runs[0].data.params
        assert (params["trainer.epochs"], params["dataset.train_limit"]) == ("1", "500")
        assert f"experiment={preset}" in runs[0].data.tags["hydra.overrides"]
