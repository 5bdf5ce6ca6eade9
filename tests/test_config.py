"""The config is the public CLI: every choice composes, and bad input fails naming the key."""

import itertools

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf.errors import ValidationError

from src.config import CHOICES, BNPlacement, ConfigError, Split
from tests.conftest import ROOT

COMBINATIONS = list(itertools.product(*(list(choice) for choice in CHOICES.values())))


@pytest.mark.parametrize("group", CHOICES)
def test_each_choice_is_one_yaml_file_named_after_it(group):
    files = {path.stem for path in (ROOT / "conf" / group).glob("*.yaml")}
    assert files == {choice.value for choice in CHOICES[group]}


@pytest.mark.parametrize("choice", COMBINATIONS, ids="-".join)
def test_every_group_combination_composes(compose, choice):
    cfg = compose(*(f"{group}={name}" for group, name in zip(CHOICES, choice, strict=True)))
    assert (cfg.dataset.name, cfg.model.name, cfg.reg.name, cfg.optimizer.name) == choice


def test_defaults_are_the_mnist_notebook(compose):
    cfg = compose()
    assert (cfg.dataset.name, cfg.model.name, cfg.reg.name, cfg.optimizer.name) == (
        "mnist", "cnn", "none", "adam")
    assert cfg.optimizer.lr == 1e-3
    assert (cfg.trainer.epochs, cfg.trainer.batch_size) == (10, 32)
    assert (cfg.dataset.split, cfg.dataset.val_size) == (Split.last, 10000)
    assert cfg.dataset.train_limit is None


def test_choices_print_as_their_names(compose):
    cfg = compose("model=lenet5")
    assert f"{cfg.model.name}-{cfg.dataset.split}" == "lenet5-last"


def test_fashion_mnist_uses_the_homework_split(compose):
    cfg = compose("dataset=fashion_mnist")
    assert (cfg.dataset.split, cfg.dataset.val_size, cfg.dataset.split_seed) == (
        Split.random, 0.2, 42)


def test_notebook_regularization_rates(compose):
    dropout = compose("reg=dropout").reg
    assert (dropout.conv_dropout, dropout.dense_dropout, dropout.batchnorm) == (0.25, 0.5, False)
    bn = compose("reg=batchnorm", "reg.bn_placement=before_activation").reg
    assert bn.batchnorm and bn.bn_placement == BNPlacement.before_activation


def test_tracking_experiment_follows_dataset_and_model(compose):
    cfg = compose("dataset=fashion_mnist", "model=lenet5")
    assert cfg.tracking.experiment == "fashion_mnist-lenet5"


def test_unknown_group_choice_lists_the_options(compose):
    with pytest.raises(ConfigCompositionException, match="reg.*foo") as err:
        compose("reg=foo")
    assert "batchnorm" in str(err.value)


@pytest.mark.parametrize(
    ("override", "key"),
    [("optimizer.lr=abc", "optimizer.lr"), ("trainer.epochs=ten", "trainer.epochs"),
     ("reg.batchnorm=maybe", "reg.batchnorm"), ("dataset.split=middle", "dataset.split"),
     ("trainer.precision=fp8", "trainer.precision"), ("model.name=resnet", "model.name")],
)
def test_wrong_type_or_unknown_name_fails_naming_the_key(compose, override, key):
    with pytest.raises((ConfigCompositionException, ValidationError)) as err:
        compose(override)
    assert key in f"{err.value} {err.value.__cause__}"


def test_misspelled_key_fails(compose):
    with pytest.raises(ConfigCompositionException) as err:
        compose("trainer.epoch=3")
    assert "epoch" in f"{err.value} {err.value.__cause__}"


@pytest.mark.parametrize(
    ("override", "key"),
    [("trainer.epochs=-1", "trainer.epochs"), ("trainer.epochs=0", "trainer.epochs"),
     ("reg.conv_dropout=1.5", "reg.conv_dropout"), ("reg.dense_dropout=1.0", "reg.dense_dropout"),
     ("reg.conv_dropout=-0.1", "reg.conv_dropout"), ("optimizer.lr=0", "optimizer.lr"),
     ("optimizer.momentum=1", "optimizer.momentum"), ("trainer.batch_size=0", "trainer.batch_size"),
     ("dataset.train_limit=0", "dataset.train_limit"), ("trainer.verbose=3", "trainer.verbose"),
     ("trainer.steps_per_execution=0", "trainer.steps_per_execution"),
     ("dataset.val_size=0", "dataset.val_size"), ("dataset.val_size=60000", "dataset.val_size"),
     ("dataset.val_size=1000.5", "dataset.val_size"), ("seed=-1", "seed"),
     ("tracking.wait_for_server=-1", "tracking.wait_for_server"),
     ("tracking.experiment=' '", "tracking.experiment")],
)
def test_out_of_range_value_fails_naming_the_key_and_the_default(compose, override, key):
    with pytest.raises(ConfigError, match=rf"^{key.replace('.', '[.]')}=.* is invalid: it must be "
                                          rf".*\(the default is {key.replace('.', '[.]')}=") as err:
        compose(override)
    assert "\n" not in str(err.value)


def test_unresolvable_interpolation_fails_naming_the_key(compose):
    with pytest.raises(ConfigError, match=r"^tracking\.experiment: Interpolation key 'nowhere'"):
        compose("tracking.experiment=${nowhere}")
