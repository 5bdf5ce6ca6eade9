"""Models from the config: the notebooks' architectures exactly (parameter counts and layer
order), a ResNet, any input shape, regularizers applied at the places builders mark, and a
builder that would not train refused in one line."""

import keras
import numpy as np
import pytest
from keras import layers

from src import models
from src.config import ConfigError
from src.data import DatasetInfo
from src.targets import TargetError
from tests.conftest import MNIST, ROOT

CLASSES = tuple(str(d) for d in range(10))
CIFAR = DatasetInfo((32, 32, 3), CLASSES, 50_000, 10_000)
DIGITS = DatasetInfo((8, 8, 1), CLASSES, 1_437, 360)
MODELS = sorted(path.stem for path in (ROOT / "conf" / "model").glob("*.yaml"))


def trainable(model) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


@pytest.mark.parametrize(
    ("overrides", "info", "total", "n_trainable"),
    [
        (("model=cnn",), MNIST, 121_930, 121_930),
        (("model=cnn", "reg=dropout"), MNIST, 121_930, 121_930),
        (("model=cnn", "reg=batchnorm"), MNIST, 122_570, 122_250),
        (("model=mlp",), MNIST, 109_386, 109_386),
        (("model=lenet5",), MNIST, 61_706, 61_706),
        (("model=lenet5", "reg=dropout"), MNIST, 61_706, 61_706),
        (("model=lenet5", "reg=batchnorm"), MNIST, 62_274, 61_990),
        (("model=vgg",), MNIST, 162_226, 162_226),
        (("model=vgg", "reg=batchnorm"), MNIST, 163_570, 162_898),
        (("model=resnet",), CIFAR, 174_698, 174_698),
        (("model=resnet", "reg=batchnorm"), CIFAR, 176_938, 175_818),
        (("model=resnet", "model.blocks_per_stage=3"), CIFAR, 271_690, 271_690),  # ResNet-20
        (("model=cnn",), CIFAR, 167_562, 167_562),  # the same layers on 32x32x3 inputs
    ],
)
def test_parameter_counts_match_the_notebooks_and_the_input(built, overrides, info, total,
                                                             n_trainable):
    model = built(*overrides, info=info)
    assert model.count_params() == total
    assert trainable(model) == n_trainable
    assert models.parameter_counts(model) == {"model.params": total,
                                              "model.trainable_params": n_trainable}


def layer_kinds(model) -> list[str]:
    """The layers' classes in order; batch normalization on the fused kernel is Keras' layer."""
    return [type(layer).__name__.removeprefix("Fused") for layer in model.layers
            if type(layer).__name__ != "InputLayer"]


def test_cnn_dropout_follows_each_pool_and_the_hidden_dense(built):
    model = built("model=cnn", "reg=dropout")
    rates = [layer.rate for layer in model.layers if type(layer).__name__ == "Dropout"]
    assert rates == [0.25, 0.25, 0.5]
    kinds = layer_kinds(model)
    assert [kinds[i - 1] for i, k in enumerate(kinds) if k == "Dropout"] == [
        "MaxPooling2D", "MaxPooling2D", "Activation"]


def test_cnn_batchnorm_comes_after_relu_like_the_notebook(built):
    kinds = layer_kinds(built("model=cnn", "reg=batchnorm"))
    assert kinds[:3] == ["Conv2D", "Activation", "BatchNormalization"]
    assert kinds.count("BatchNormalization") == 3


def test_lenet5_batchnorm_is_conv_bn_relu_like_the_homework(built):
    kinds = layer_kinds(built("model=lenet5", "reg=batchnorm"))
    assert kinds[:3] == ["Conv2D", "BatchNormalization", "Activation"]
    assert kinds.count("BatchNormalization") == 3


def test_vgg_is_three_stages_of_two_convs_each_followed_by_batchnorm_then_relu(built):
    stage = ["Conv2D", "BatchNormalization", "Activation"] * 2
    assert layer_kinds(built("model=vgg", "reg=batchnorm")) == [
        *stage, "MaxPooling2D", *stage, "MaxPooling2D", *stage,
        "GlobalAveragePooling2D", "Dense"]


def test_resnet_adds_each_block_to_its_shortcut_before_the_relu(built):
    model = built("model=resnet", "reg=batchnorm", info=CIFAR)
    kinds = layer_kinds(model)
    assert kinds.count("Add") == 3 * 2  # stages x blocks
    assert [kinds[i - 1] for i, k in enumerate(kinds) if k == "Add"] == ["BatchNormalization"] * 6
    assert [kinds[i + 1] for i, k in enumerate(kinds) if k == "Add"] == ["Activation"] * 6


def test_placement_from_the_config_moves_batchnorm(built):
    kinds = layer_kinds(built("model=cnn", "reg=batchnorm",
                              "reg.batchnorm.placement=before_activation"))
    assert kinds[:3] == ["Conv2D", "BatchNormalization", "Activation"]


def test_lenet5_with_homework_dropout_has_three_dropout_layers(built):
    model = built("experiment=fashion_lenet5", "reg=dropout")
    assert [layer.rate for layer in model.layers if type(layer).__name__ == "Dropout"] == [0.5] * 3


def test_regularizers_compose_and_the_model_named_after_them_trains(built):
    model = built("model=cnn", "reg=[dropout,batchnorm]")
    kinds = layer_kinds(model)
    assert kinds.count("Dropout") == 3 and kinds.count("BatchNormalization") == 3
    assert model.name == "cnn_batchnorm-dropout"  # a name TensorFlow's scopes accept
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    images = np.random.default_rng(0).random((4, 28, 28, 1), dtype="float32")
    assert np.isfinite(model.fit(images, np.arange(4), verbose=0).history["loss"][0])


def test_l2_penalizes_every_kernel_and_adds_to_the_loss(built):
    model = built("model=lenet5", "reg=l2", "reg.l2.weight=0.01")
    kernels = [layer for layer in model.layers if hasattr(layer, "kernel")]
    assert len(model.losses) == len(kernels) == 5  # three convs, two dense layers
    expected = sum(0.01 * float(np.sum(np.square(layer.kernel.numpy()))) for layer in kernels)
    assert float(sum(model.losses)) == pytest.approx(expected, rel=1e-5)
    assert all(layer.get_config()["kernel_regularizer"] for layer in kernels)  # saved with it


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("info", [MNIST, CIFAR], ids=["28x28x1", "32x32x3"])
def test_every_model_outputs_class_probabilities_for_any_image_shape(built, name, info):
    x = np.random.default_rng(0).random((4, *info.input_shape), dtype="float32")
    probs = np.asarray(built(f"model={name}", info=info)(x))
    assert probs.shape == (4, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_a_model_too_deep_for_the_images_is_refused_naming_model_and_dataset(built):
    with pytest.raises(ConfigError, match=r"^model=cnn on dataset mnist \(8x8x1 images\) "
                                          r"cannot be built .*: the input is too small"):
        built("model=cnn", info=DIGITS)
    assert built("model=resnet", "reg=batchnorm", info=DIGITS).output.shape == (None, 10)


@pytest.mark.parametrize(("overrides", "message"), [
    (("model=mlp", "reg=dropout"), r"^reg\.dropout\.conv=0\.25 has no effect on model=mlp: it "
                                   r"has no conv block .*; set reg\.dropout\.conv=0 or drop"),
    (("model=mlp", "reg=dropout", "reg.dropout.conv=0", "reg.dropout.dense=0"),
     r"^reg\.dropout\.conv=0 is invalid: it must be > 0, or dense > 0"),
    (("reg=l2", "reg.l2.weight=0"), r"^reg\.l2\.weight=0 is invalid: it must be > 0"),
    (("reg=dropout", "reg.dropout.conv=1.5"), r"^reg\.dropout\.conv=1\.5 is invalid"),
    (("reg=batchnorm", "reg.batchnorm.placement=sideways"), r"^reg\.batchnorm\.placement="),
    (("model=cnn", "+model.filter=3"), r"^model\.filter: src\.models\.convnets\.cnn takes no "
                                       r"argument 'filter' \(did you mean filters\?\)"),
    (("model._target_=src.models.convnets.nowhere",),
     r"^model\._target_=src\.models\.convnets\.nowhere cannot be imported"),
])
def test_a_setting_that_cannot_act_or_does_not_exist_is_refused_in_one_line(built, overrides,
                                                                             message):
    with pytest.raises((ConfigError, TargetError), match=message) as err:
        built(*overrides)
    assert "\n" not in str(err.value)


def plain_builder(input_shape, num_classes, width: int = 8):
    """A builder that marks no place: only L2 can act on it."""
    inputs = keras.Input(input_shape)
    x = layers.Dense(width, activation="relu")(layers.Flatten()(inputs))
    return keras.Model(inputs, layers.Dense(num_classes, activation="softmax")(x))


def wrong_output_builder(input_shape, num_classes):
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, layers.Dense(num_classes + 1)(layers.Flatten()(inputs)))


def test_a_builder_of_your_own_gets_what_its_places_allow(built):
    own = f"model._target_={__name__}.plain_builder"
    assert layer_kinds(built("model=mlp", own, "~model.units", "reg=l2"))[-1] == "Dense"
    with pytest.raises(ConfigError, match=r"^reg\.batchnorm has no effect on model=mlp: it has "
                                          r"no hidden layer"):
        built("model=mlp", own, "~model.units", "reg=batchnorm")
    with pytest.raises(ConfigError, match=r"outputs \(None, 11\), not one probability per class"):
        built("model=mlp", f"model._target_={__name__}.wrong_output_builder", "~model.units")


def sequential_builder(input_shape, num_classes):
    return keras.Sequential([keras.Input(input_shape), layers.Flatten(),
                             layers.Dense(num_classes, activation="softmax")])


class Subclassed(keras.Model):
    def call(self, x):
        return x


def subclassed_builder(input_shape, num_classes):
    return Subclassed()


def test_a_sequential_builder_works_and_a_subclassed_model_is_refused(built):
    model = built("model=mlp", f"model._target_={__name__}.sequential_builder", "~model.units")
    assert model.output.shape == (None, 10)
    with pytest.raises(TargetError, match=r"returned Subclassed: a builder returns a functional"):
        built("model=mlp", f"model._target_={__name__}.subclassed_builder", "~model.units")
