"""Plain convolutional stacks: the MNIST notebook's CNN, the homework's LeNet-5, and a small
VGG-style net for the strong presets. Each lists its layers top to bottom as the notebooks did;
the marked places (src.models.sites) are where the notebooks put dropout and batchnorm."""

import keras
from keras import layers

from src.models.sites import AFTER, batchnorm_side, block, features, hidden


@batchnorm_side(AFTER)  # where the MNIST notebook put it
def cnn(input_shape: tuple, num_classes: int, filters: tuple = (32, 64),
        dense: int = 64) -> keras.Model:
    """Conv32-pool-Conv64-pool-Dense64-Dense10: 121,930 params on MNIST (122,570 with
    batchnorm)."""
    inputs = keras.Input(input_shape)
    x = inputs
    for width in filters:
        x = hidden(layers.Conv2D(width, 3), x)
        x = block(layers.MaxPooling2D(2)(x))
    x = layers.Flatten()(x)
    x = features(hidden(layers.Dense(dense), x))
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def lenet5(input_shape: tuple, num_classes: int, filters: tuple = (6, 16, 120),
           dense: int = 84) -> keras.Model:
    """Conv6(same)-pool-Conv16-pool-Conv120-Dense84-Dense10: 61,706 params on 28x28 (62,274
    with batchnorm). As in the homework, Conv120's output is the feature vector and Dense84
    takes no batchnorm."""
    first, second, third = filters
    inputs = keras.Input(input_shape)
    x = hidden(layers.Conv2D(first, 5, padding="same"), inputs)
    x = block(layers.MaxPooling2D(2)(x))
    x = hidden(layers.Conv2D(second, 5), x)
    x = block(layers.MaxPooling2D(2)(x))
    x = features(hidden(layers.Conv2D(third, 5), x))
    x = layers.Flatten()(x)
    x = layers.Dense(dense, activation="relu")(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def vgg(input_shape: tuple, num_classes: int, widths: tuple = (24, 48, 96),
        convs_per_stage: int = 2) -> keras.Model:
    """Stages of 3x3 convs ("same" padding), max-pooled between stages, then global average
    pooling instead of a big dense layer: 162,226 params on MNIST (163,570 with batchnorm,
    which it is meant to be trained with)."""
    inputs = keras.Input(input_shape)
    x = inputs
    for stage, width in enumerate(widths):
        for _ in range(convs_per_stage):
            x = hidden(layers.Conv2D(width, 3, padding="same"), x)
        if stage < len(widths) - 1:
            x = block(layers.MaxPooling2D(2)(x))
    x = features(layers.GlobalAveragePooling2D()(x))
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)
