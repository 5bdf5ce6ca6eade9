"""Fully connected nets: the homework's part 3 MLP."""

import keras
from keras import layers

from src.models.sites import AFTER, batchnorm_side, features, hidden


@batchnorm_side(AFTER)  # where the homework put it
def mlp(input_shape: tuple, num_classes: int, units: tuple = (128, 64)) -> keras.Model:
    """Flatten, then Dense layers of `units` with ReLU: 784-128-64-10 has 109,386 params.
    Each hidden layer's output is a place for `reg.dropout.dense`."""
    inputs = keras.Input(input_shape)
    x = layers.Flatten()(inputs)
    for width in units:
        x = features(hidden(layers.Dense(width), x))
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)
