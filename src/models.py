"""The notebooks' architectures, and one beyond them, with regularization switched in by the
`reg` config.

Each builder lists its layers top to bottom as the notebook wrote them; `reg` only inserts
Dropout and BatchNormalization at the places the notebooks used.
"""

import keras
import numpy as np
from keras import layers

from src.config import BNPlacement, ModelConfig, ModelName, RegConfig

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10

# Where each notebook put BN relative to the ReLU (used when reg.bn_placement is null).
NOTEBOOK_BN_PLACEMENT = {
    ModelName.cnn: BNPlacement.after_activation,
    ModelName.mlp: BNPlacement.after_activation,
    ModelName.lenet5: BNPlacement.before_activation,
    ModelName.vgg: BNPlacement.before_activation,
}


def _hidden(layer: layers.Layer, reg: RegConfig, bn_before: bool) -> list[layers.Layer]:
    """A conv/dense layer with its ReLU, plus BN on the requested side of the activation."""
    if not reg.batchnorm:
        return [layer, layers.Activation("relu")]
    if bn_before:
        return [layer, layers.BatchNormalization(), layers.Activation("relu")]
    return [layer, layers.Activation("relu"), layers.BatchNormalization()]


def _dropout(rate: float) -> list[layers.Layer]:
    return [layers.Dropout(rate)] if rate > 0 else []


def cnn(reg: RegConfig, bn_before: bool) -> list[layers.Layer]:
    """MNIST notebook: 121,930 params; 122,570 with batchnorm."""
    return [
        *_hidden(layers.Conv2D(32, 3), reg, bn_before),
        layers.MaxPooling2D(2),
        *_dropout(reg.conv_dropout),
        *_hidden(layers.Conv2D(64, 3), reg, bn_before),
        layers.MaxPooling2D(2),
        *_dropout(reg.conv_dropout),
        layers.Flatten(),
        *_hidden(layers.Dense(64), reg, bn_before),
        *_dropout(reg.dense_dropout),
        layers.Dense(NUM_CLASSES, activation="softmax"),
    ]


def mlp(reg: RegConfig, bn_before: bool) -> list[layers.Layer]:
    """Homework part 3: 784-128-64-10, 109,386 params."""
    return [
        layers.Flatten(),
        *_hidden(layers.Dense(128), reg, bn_before),
        *_dropout(reg.dense_dropout),
        *_hidden(layers.Dense(64), reg, bn_before),
        *_dropout(reg.dense_dropout),
        layers.Dense(NUM_CLASSES, activation="softmax"),
    ]


def lenet5(reg: RegConfig, bn_before: bool) -> list[layers.Layer]:
    """Homework part 4: 61,706 params; 62,274 with batchnorm (61,990 trainable).

    As in the homework, dropout follows each conv block and BN each conv layer; the
    Conv120 output is the feature vector, so it takes `dense_dropout`.
    """
    return [
        *_hidden(layers.Conv2D(6, 5, padding="same"), reg, bn_before),
        layers.MaxPooling2D(2),
        *_dropout(reg.conv_dropout),
        *_hidden(layers.Conv2D(16, 5), reg, bn_before),
        layers.MaxPooling2D(2),
        *_dropout(reg.conv_dropout),
        *_hidden(layers.Conv2D(120, 5), reg, bn_before),
        *_dropout(reg.dense_dropout),
        layers.Flatten(),
        layers.Dense(84, activation="relu"),
        layers.Dense(NUM_CLASSES, activation="softmax"),
    ]


def vgg(reg: RegConfig, bn_before: bool) -> list[layers.Layer]:
    """Beyond the notebooks: a small VGG-style net for the strong presets. Three stages of two
    3x3 convs ("same" padding; 24, 48, 96 filters), global average pooling instead of a big
    dense layer. 162,226 params; 163,570 with batchnorm (162,898 trainable), which it is meant
    to be trained with: conv -> BN -> relu, like LeNet-5's."""

    def conv(filters: int) -> list[layers.Layer]:
        return _hidden(layers.Conv2D(filters, 3, padding="same"), reg, bn_before)

    return [
        *conv(24), *conv(24),
        layers.MaxPooling2D(2),
        *_dropout(reg.conv_dropout),
        *conv(48), *conv(48),
        layers.MaxPooling2D(2),
        *_dropout(reg.conv_dropout),
        *conv(96), *conv(96),
        layers.GlobalAveragePooling2D(),
        *_dropout(reg.dense_dropout),
        layers.Dense(NUM_CLASSES, activation="softmax"),
    ]


BUILDERS = {ModelName.cnn: cnn, ModelName.mlp: mlp, ModelName.lenet5: lenet5, ModelName.vgg: vgg}


def build(model: ModelConfig, reg: RegConfig) -> keras.Sequential:
    placement = reg.bn_placement or NOTEBOOK_BN_PLACEMENT[model.name]
    stack = BUILDERS[model.name](reg, bn_before=placement == BNPlacement.before_activation)
    name = f"{model.name}_{reg.name}"
    return keras.Sequential([keras.Input(INPUT_SHAPE), *stack], name=name)


def parameter_counts(model: keras.Model) -> dict[str, int]:
    """All weights (BN's moving statistics included) and the trainable ones, as run params."""
    trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    return {"model.params": model.count_params(), "model.trainable_params": trainable}
