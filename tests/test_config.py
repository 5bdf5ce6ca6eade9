"""The config is the public CLI: every choice composes, and bad input fails naming the key."""

import itertools

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf.errors import ValidationError

from src.choices import CHOICES
from src.config import BNPlacement, ConfigError, Split
from tests.conftest import ROOT

NOTEBOOK_GROUPS = ("dataset", "model", "reg", "optimizer")  # every combination of these
COMBINATIONS = list(itertools.product(*(list(CHOICES[group]) for group in NOTEBOOK_GROUPS)))


@pytest.mark.parametrize("group", CHOICES)
def test_each_choice_is_one_yaml_file_named_after_it(group):
    files = {path.stem for path in (ROOT / "conf" / group).glob("*.yaml")}
    assert files == {choice.value for choice in CHOICES[group]}


@pytest.mark.parametrize("choice", COMBINATIONS, ids="-".join)
def test_every_notebook_group_combination_composes(compose, choice):
    cfg = compose(*(f"{group}={name}" for group, name in zip(NOTEBOOK_GROUPS, choice, strict=True)))
    assert (cfg.dataset.name, cfg.model.name, cfg.reg.name, cfg.optimizer.name) == choice


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist"])
@pytest.mark.parametrize(("group", "name"), [
    (group, name) for group in CHOICES if group not in NOTEBOOK_GROUPS  # a fixed order: xdist
    for name in CHOICES[group] if name != "clothes"])  # workers must collect the same list
def test_every_recipe_choice_composes_on_either_dataset(compose, dataset, group, name):
    assert getattr(compose(f"dataset={dataset}", f"{group}={name}"), group).name == name


def test_new_groups_default_to_the_notebooks_recipe(compose):
    cfg = compose()
    assert (cfg.augment.name, cfg.schedule.name) == ("none", "constant")
    assert (cfg.optimizer.weight_decay, cfg.trainer.label_smoothing) == (0.0, 0.0)
    assert not (cfg.augment.shift or cfg.augment.rotation or cfg.augment.horizontal_flip
                or cfg.augment.erasing)


def test_flipping_is_refused_on_digits_and_allowed_on_clothes(compose):
    assert compose("dataset=fashion_mnist", "augment=clothes").augment.horizontal_flip
    with pytest.raises(ConfigError, match=r"^augment\.horizontal_flip=True is invalid: it must "
                                          r"be false on mnist"):
        compose("dataset=mnist", "augment=clothes")
    assert not compose("augment=digits").augment.horizontal_flip


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
     ("trainer.precision=fp8", "trainer.precision"), ("model.name=vit", "model.name"),
     ("augment=mixup", "augment"), ("schedule=step", "schedule")],
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
     ("tracking.experiment=' '", "tracking.experiment"),
     ("augment.shift=0.6", "augment.shift"), ("augment.rotation=-5", "augment.rotation"),
     ("augment.erasing=1.5", "augment.erasing"), ("schedule.warmup=1", "schedule.warmup"),
     ("schedule.final_factor=2", "schedule.final_factor"),
     ("schedule.start_factor=-0.1", "schedule.start_factor"),
     ("schedule.warmup=0.1", "schedule.warmup"),  # a warm-up on the constant schedule
     ("optimizer.weight_decay=-0.01", "optimizer.weight_decay"),
     ("trainer.label_smoothing=1", "trainer.label_smoothing")],
)
def test_out_of_range_value_fails_naming_the_key_and_the_default(compose, override, key):
    with pytest.raises(ConfigError, match=rf"^{key.replace('.', '[.]')}=.* is invalid: it must be "
                                          rf".*\(the default is {key.replace('.', '[.]')}=") as err:
        compose(override)
    assert "\n" not in str(err.value)


def test_unresolvable_interpolation_fails_naming_the_key(compose):
    with pytest.raises(ConfigError, match=r"^tracking\.experiment: Interpolation key 'nowhere'"):
        compose("tracking.experiment=${nowhere}")
