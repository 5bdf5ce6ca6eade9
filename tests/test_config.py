"""The config is the public CLI: every choice composes, and bad input fails naming the key."""

import itertools

import pytest
import yaml
from hydra.errors import ConfigCompositionException
from omegaconf.errors import ValidationError

from src.choices import CLOSED, GROUPS, Split
from src.config import ConfigError, DatasetConfig, check_against_data, reg_label
from tests.conftest import ROOT


def options(group: str) -> list[str]:
    return sorted(path.stem for path in (ROOT / "conf" / group).glob("*.yaml"))


# Datasets of your own need their path; a placeholder composes (nothing is read here).
DATASET_ARGS = {"npz": ["dataset.loader.path=mine.npz"], "folder": ["dataset.loader.path=mine"]}
# Every dataset with every model, the regularizers and optimizers taken in turn (each group
# composes on its own, so every pair of a dataset and a model, and every choice, is enough).
COMBINATIONS = [(dataset, model, reg, str(optimizer)) for (dataset, model), reg, optimizer in zip(
    itertools.product(options("dataset"), options("model")), itertools.cycle(options("reg")),
    itertools.cycle(CLOSED["optimizer"]), strict=False)]


@pytest.mark.parametrize("group", CLOSED)
def test_each_closed_choice_is_one_yaml_file_named_after_it(group):
    assert options(group) == sorted(choice.value for choice in CLOSED[group])


@pytest.mark.parametrize("group", GROUPS)
def test_each_open_choice_names_its_code_and_itself(group):
    for path in (ROOT / "conf" / group).glob("*.yaml"):
        node = yaml.safe_load(path.read_text()) or {}
        if group == "model":
            assert node["_target_"].startswith("src.models.") and node["name"] == path.stem
        elif group == "dataset":
            assert node["loader"]["_target_"].startswith("src.data.")
            assert node["name"] == path.stem
        elif group == "reg":  # one regularizer under its own name, or none at all
            assert list(node) in ([], [path.stem]), path
            assert all(entry["_target_"].startswith("src.models.") for entry in node.values())


@pytest.mark.parametrize("choice", COMBINATIONS, ids="-".join)
def test_every_dataset_model_reg_and_optimizer_combination_composes(compose, choice):
    dataset, model, reg, optimizer = choice
    cfg = compose(f"dataset={dataset}", f"model={model}", f"reg={reg}",
                  f"optimizer={optimizer}", *DATASET_ARGS.get(dataset, []))
    assert (cfg.dataset.name, cfg.model["name"], reg_label(cfg.reg), cfg.optimizer.name) == choice


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist"])
@pytest.mark.parametrize(("group", "name"), [
    (group, name) for group in ("augment", "schedule")  # a fixed order: xdist workers
    for name in CLOSED[group] if name != "clothes"])  # must collect the same list
def test_every_recipe_choice_composes_on_either_dataset(compose, dataset, group, name):
    assert getattr(compose(f"dataset={dataset}", f"{group}={name}"), group).name == name


def test_regularizers_are_chosen_as_a_list_and_named_by_what_runs(compose):
    reg = compose("reg=[dropout,batchnorm,l2]").reg
    assert sorted(reg) == ["batchnorm", "dropout", "l2"]
    assert reg_label(reg) == "batchnorm+dropout+l2"
    assert reg_label(compose().reg) == "none"


def test_new_groups_default_to_the_notebooks_recipe(compose):
    cfg = compose()
    assert (cfg.augment.name, cfg.schedule.name) == ("none", "constant")
    assert (cfg.optimizer.weight_decay, cfg.trainer.label_smoothing) == (0.0, 0.0)
    assert not (cfg.augment.shift or cfg.augment.rotation or cfg.augment.horizontal_flip
                or cfg.augment.erasing)


def test_flipping_is_refused_on_digit_datasets_and_allowed_on_clothes(compose):
    assert compose("dataset=fashion_mnist", "augment=clothes").augment.horizontal_flip
    with pytest.raises(ConfigError, match=r"^augment\.horizontal_flip=True is invalid: it must "
                                          r"be false on mnist"):
        compose("dataset=mnist", "augment=clothes")
    with pytest.raises(ConfigError, match=r"must be false on digits"):
        compose("dataset=digits", "augment=clothes")
    assert not compose("augment=digits").augment.horizontal_flip


def test_defaults_are_the_mnist_notebook(compose):
    cfg = compose()
    assert (cfg.dataset.name, cfg.model["name"], reg_label(cfg.reg), cfg.optimizer.name) == (
        "mnist", "cnn", "none", "adam")
    assert cfg.optimizer.lr == 1e-3
    assert (cfg.trainer.epochs, cfg.trainer.batch_size) == (10, 32)
    assert (cfg.dataset.split, cfg.dataset.val_size) == (Split.last, 10000)
    assert cfg.dataset.train_limit is None


def test_choices_print_as_their_names(compose):
    cfg = compose("optimizer=sgd")
    assert f"{cfg.optimizer.name}-{cfg.dataset.split}" == "sgd-last"


def test_fashion_mnist_uses_the_homework_split(compose):
    cfg = compose("dataset=fashion_mnist")
    assert (cfg.dataset.split, cfg.dataset.val_size, cfg.dataset.split_seed) == (
        Split.random, 0.2, 42)


def test_notebook_regularization_rates(compose):
    dropout = compose("reg=dropout").reg
    assert list(dropout) == ["dropout"]
    assert (dropout["dropout"]["conv"], dropout["dropout"]["dense"]) == (0.25, 0.5)
    bn = compose("reg=batchnorm", "reg.batchnorm.placement=before_activation").reg
    assert list(bn) == ["batchnorm"] and bn["batchnorm"]["placement"] == "before_activation"


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
     ("trainer.precision=fp8", "trainer.precision"), ("optimizer.name=rmsprop", "optimizer.name"),
     ("augment=mixup", "augment"), ("schedule=step", "schedule"), ("model=vit", "model"),
     ("reg=[dropout,foo]", "reg")],
)
def test_wrong_type_or_unknown_name_fails_naming_the_key(compose, override, key):
    with pytest.raises((ConfigCompositionException, ValidationError)) as err:
        compose(override)
    assert key in f"{err.value} {err.value.__cause__}"


def test_misspelled_key_fails(compose):
    with pytest.raises(ConfigCompositionException) as err:
        compose("trainer.epoch=3")
    assert "epoch" in f"{err.value} {err.value.__cause__}"


@pytest.mark.parametrize(("override", "message"), [
    ("+trainer.epoch=5", r"^trainer\.epoch is not a setting \(did you mean trainer\.epochs\?\)"),
    ("+foo=1", r"^foo is not a setting; \+ adds keys only to a model's, loader's or "),
    ("+dataset.val_sise=0.3", r"^dataset\.val_sise is not a setting \(did you mean "
                              r"dataset\.val_size\?\)"),
])
def test_a_key_added_with_plus_is_refused_naming_the_closest(compose, override, message):
    with pytest.raises(ConfigError, match=message) as err:
        compose(override)
    assert "\n" not in str(err.value)


def test_a_builder_loader_or_regularizer_takes_keys_added_with_plus_that_it_accepts(compose):
    """Their callables' signatures are the schema: a regularizer's is checked here (cheap), a
    loader's when the data is described, a builder's when the model is built."""
    assert compose("+model.activation=gelu").model["activation"] == "gelu"
    assert compose("+dataset.loader.extra=1").dataset.loader["extra"] == 1
    with pytest.raises(ConfigError, match=r"^reg\.dropout\.noise: src\.models\.regularizers\."
                                          r"dropout takes no argument 'noise'; it takes: conv, "):
        compose("reg=dropout", "+reg.dropout.noise=0.1")


def test_a_setting_with_no_effect_in_the_composed_config_is_refused(compose):
    with pytest.raises(ConfigError, match=r"^optimizer\.momentum=0\.9 is invalid: it must be 0 "
                                          r"with optimizer=adam, which has no momentum"):
        compose("optimizer.momentum=0.9")
    assert compose("optimizer=sgd", "optimizer.momentum=0.9").optimizer.momentum == 0.9
    with pytest.raises(ConfigError, match=r"^dataset\.split_seed=7 is invalid: it must be left at "
                                          r"42 with dataset\.split=last"):
        compose("dataset.split_seed=7")


@pytest.mark.parametrize(("val_size", "train_limit", "message"), [
    (60000, None, r"^dataset\.val_size=60000 is invalid: it must be a fraction in \(0, 1\) or "
                  r"a whole count of images in \[1, 60000\)"),
    (10000, 50000, r"^dataset\.train_limit=50000 is invalid: it must be below the 50000 "),
])
def test_split_settings_are_checked_against_the_datasets_own_size(val_size, train_limit,
                                                                  message):
    cfg = DatasetConfig(split=Split.last, val_size=val_size, train_limit=train_limit)
    with pytest.raises(ConfigError, match=message):
        check_against_data(cfg, 60_000)
    check_against_data(DatasetConfig(val_size=0.2, train_limit=1000), 1_437)  # digits: fine


@pytest.mark.parametrize(
    ("override", "key"),
    [("trainer.epochs=-1", "trainer.epochs"), ("trainer.epochs=0", "trainer.epochs"),
     ("optimizer.lr=0", "optimizer.lr"),
     ("optimizer.momentum=1", "optimizer.momentum"), ("trainer.batch_size=0", "trainer.batch_size"),
     ("dataset.train_limit=0", "dataset.train_limit"), ("trainer.verbose=3", "trainer.verbose"),
     ("trainer.steps_per_execution=0", "trainer.steps_per_execution"),
     ("dataset.val_size=0", "dataset.val_size"), ("optimizer.momentum=0.5", "optimizer.momentum"),
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
