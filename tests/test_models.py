"""Exactly the notebooks' architectures (and the VGG-style net of the strong presets):
parameter counts and layer order."""

import numpy as np
import pytest

from src.config import BNPlacement, ModelConfig, ModelName, RegConfig
from src.models import build, parameter_counts

NONE = RegConfig()
DROPOUT = RegConfig(name="dropout", conv_dropout=0.25, dense_dropout=0.5)
BATCHNORM = RegConfig(name="batchnorm", batchnorm=True)


def trainable(model) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


@pytest.mark.parametrize(
    ("model", "reg", "total", "n_trainable"),
    [
        ("cnn", NONE, 121_930, 121_930),
        ("cnn", DROPOUT, 121_930, 121_930),
        ("cnn", BATCHNORM, 122_570, 122_250),
        ("mlp", NONE, 109_386, 109_386),
        ("lenet5", NONE, 61_706, 61_706),
        ("lenet5", DROPOUT, 61_706, 61_706),
        ("lenet5", BATCHNORM, 62_274, 61_990),
        ("vgg", NONE, 162_226, 162_226),
        ("vgg", BATCHNORM, 163_570, 162_898),
    ],
)
def test_parameter_counts_match_the_notebooks(model, reg, total, n_trainable):
    built = build(ModelConfig(model), reg)
    assert built.count_params() == total
    assert trainable(built) == n_trainable
    assert parameter_counts(built) == {"model.params": total, "model.trainable_params": n_trainable}


def layer_kinds(model) -> list[str]:
    return [type(layer).__name__ for layer in model.layers]


def test_cnn_dropout_follows_each_pool_and_the_hidden_dense():
    built = build(ModelConfig("cnn"), DROPOUT)
    rates = [layer.rate for layer in built.layers if type(layer).__name__ == "Dropout"]
    assert rates == [0.25, 0.25, 0.5]
    kinds = layer_kinds(built)
    assert [kinds[i - 1] for i, k in enumerate(kinds) if k == "Dropout"] == [
        "MaxPooling2D", "MaxPooling2D", "Activation"]


def test_cnn_batchnorm_comes_after_relu_like_the_notebook():
    kinds = layer_kinds(build(ModelConfig("cnn"), BATCHNORM))
    assert kinds[:3] == ["Conv2D", "Activation", "BatchNormalization"]
    assert kinds.count("BatchNormalization") == 3


def test_lenet5_batchnorm_is_conv_bn_relu_like_the_homework():
    kinds = layer_kinds(build(ModelConfig("lenet5"), BATCHNORM))
    assert kinds[:3] == ["Conv2D", "BatchNormalization", "Activation"]
    assert kinds.count("BatchNormalization") == 3


def test_vgg_is_three_stages_of_two_convs_each_followed_by_batchnorm_then_relu():
    kinds = layer_kinds(build(ModelConfig("vgg"), BATCHNORM))
    assert kinds == ["Conv2D", "BatchNormalization", "Activation"] * 2 + ["MaxPooling2D"] + [
        "Conv2D", "BatchNormalization", "Activation"] * 2 + ["MaxPooling2D"] + [
        "Conv2D", "BatchNormalization", "Activation"] * 2 + ["GlobalAveragePooling2D", "Dense"]


def test_bn_placement_override_moves_batchnorm():
    reg = RegConfig(name="batchnorm", batchnorm=True, bn_placement=BNPlacement.before_activation)
    assert layer_kinds(build(ModelConfig("cnn"), reg))[:3] == [
        "Conv2D", "BatchNormalization", "Activation"]


def test_lenet5_with_homework_dropout_has_three_dropout_layers():
    homework = RegConfig(name="dropout", conv_dropout=0.5, dense_dropout=0.5)
    built = build(ModelConfig("lenet5"), homework)
    assert [layer.rate for layer in built.layers if type(layer).__name__ == "Dropout"] == [0.5] * 3


@pytest.mark.parametrize("name", list(ModelName))
def test_every_model_choice_outputs_class_probabilities(name):
    x = np.random.default_rng(0).random((4, 28, 28, 1), dtype="float32")
    probs = np.asarray(build(ModelConfig(name), NONE)(x))
    assert probs.shape == (4, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
