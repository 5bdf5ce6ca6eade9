"""The config is the public CLI: every choice composes, and bad input fails at composition."""

import itertools

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from omegaconf.errors import ValidationError

from src.config import BNPlacement, Config, ConfigError, Split, register, to_typed
from tests.conftest import ROOT

register()
GROUPS = {
    "dataset": ["mnist", "fashion_mnist"],
    "model": ["cnn", "mlp", "lenet5"],
    "reg": ["none", "dropout", "batchnorm"],
    "optimizer": ["adam", "sgd"],
}


def typed(*overrides: str) -> Config:
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        return to_typed(compose("config", overrides=list(overrides)))


@pytest.mark.parametrize("choice", list(itertools.product(*GROUPS.values())))
def test_every_group_combination_composes(choice):
    cfg = typed(*(f"{group}={name}" for group, name in zip(GROUPS, choice)))
    assert (cfg.dataset.name, cfg.model.name, cfg.reg.name, cfg.optimizer.name) == choice


def test_defaults_are_the_mnist_notebook():
    cfg = typed()
    assert (cfg.dataset.name, cfg.model.name, cfg.reg.name, cfg.optimizer.name) == (
        "mnist", "cnn", "none", "adam")
    assert cfg.optimizer.lr == 1e-3
    assert (cfg.trainer.epochs, cfg.trainer.batch_size) == (10, 32)
    assert (cfg.dataset.split, cfg.dataset.val_size) == (Split.last, 10000)
    assert cfg.dataset.train_limit is None


def test_fashion_mnist_uses_the_homework_split():
    cfg = typed("dataset=fashion_mnist")
    assert (cfg.dataset.split, cfg.dataset.val_size, cfg.dataset.split_seed) == (
        Split.random, 0.2, 42)


def test_notebook_regularization_rates():
    dropout = typed("reg=dropout").reg
    assert (dropout.conv_dropout, dropout.dense_dropout, dropout.batchnorm) == (0.25, 0.5, False)
    bn = typed("reg=batchnorm", "reg.bn_placement=before_activation").reg
    assert bn.batchnorm and bn.bn_placement == BNPlacement.before_activation


def test_tracking_experiment_follows_dataset_and_model():
    assert typed("dataset=fashion_mnist", "model=lenet5").tracking.experiment == "fashion_mnist-lenet5"


def test_unknown_group_choice_lists_the_options():
    with pytest.raises(ConfigCompositionException, match="reg.*foo") as err:
        typed("reg=foo")
    assert "batchnorm" in str(err.value)


@pytest.mark.parametrize(
    "override, key",
    [("optimizer.lr=abc", "optimizer.lr"), ("trainer.epochs=ten", "trainer.epochs"),
     ("reg.batchnorm=maybe", "reg.batchnorm"), ("dataset.split=middle", "dataset.split"),
     ("trainer.precision=fp8", "trainer.precision")],
)
def test_wrong_type_fails_naming_the_key(override, key):
    with pytest.raises((ConfigCompositionException, ValidationError)) as err:
        typed(override)
    assert key in f"{err.value} {err.value.__cause__}"


def test_misspelled_key_fails():
    with pytest.raises(ConfigCompositionException) as err:
        typed("trainer.epoch=3")
    assert "epoch" in f"{err.value} {err.value.__cause__}"


@pytest.mark.parametrize(
    "override, key",
    [("trainer.epochs=-1", "trainer.epochs"), ("trainer.epochs=0", "trainer.epochs"),
     ("reg.conv_dropout=1.5", "reg.conv_dropout"), ("reg.dense_dropout=1.0", "reg.dense_dropout"),
     ("reg.conv_dropout=-0.1", "reg.conv_dropout"), ("optimizer.lr=0", "optimizer.lr"),
     ("trainer.batch_size=0", "trainer.batch_size"), ("dataset.train_limit=0", "dataset.train_limit"),
     ("trainer.steps_per_execution=0", "trainer.steps_per_execution"),
     ("model.name=resnet", "model.name")],
)
def test_out_of_range_value_fails_naming_the_key(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        typed(override)
