"""Where regularizers act: the places a builder marks while it lays out its layers.

A builder writes plain Keras functional code and marks three kinds of places:

    x = hidden(layers.Conv2D(32, 3), x)   # a weighted layer and its ReLU: batchnorm by the ReLU
    x = block(layers.MaxPooling2D(2)(x))  # the end of a conv block: reg.dropout.conv after it
    x = features(layers.Flatten()(x))     # what the classifier reads: reg.dropout.dense

Each regularizer in `reg` (src.models.regularizers, or your own) adds its layers at the places
it hooks, in the order the builder reaches them, so every builder, yours included, gets
dropout and batchnorm from the config; L2 acts on the finished model. A place left unmarked
gets nothing: `build` refuses a regularizer that found nowhere to act.
"""

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Optional

from keras import layers

from src.models.regularizers import Regularizer

BEFORE, AFTER = "before_activation", "after_activation"


class _Building:
    """The regularizers of the model being built, and how often each hook fired."""

    def __init__(self, regularizers: dict[str, Regularizer], side: str):
        self.regularizers, self.side, self.fired = regularizers, side, Counter()

    def at(self, place: str, x: Any) -> Any:
        for name, regularizer in self.regularizers.items():
            hook = getattr(regularizer, place)
            if hook is not None:
                x = hook(x)
                self.fired[name, place] += 1
        return x


_building: Optional[_Building] = None


@contextmanager
def applying(regularizers: dict[str, Regularizer], side: str) -> Iterator[_Building]:
    """Builders called inside get these regularizers at the places they mark; `side` is where
    the builder puts batchnorm when the config does not say."""
    global _building
    _building = _Building(regularizers, side)
    try:
        yield _building
    finally:
        _building = None


def _at(place: str, x: Any) -> Any:
    return x if _building is None else _building.at(place, x)


def _by_activation(side: str, x: Any) -> Any:
    x = _at(side, x)
    return _at("hidden", x) if _building and _building.side == side else x


def hidden(layer: layers.Layer, x: Any, residual: Any = None, activation: str = "relu") -> Any:
    """`layer` then its activation, with the regularizers' layers before and after it (a
    residual branch is added just before the activation, as in a ResNet block)."""
    y = _by_activation(BEFORE, layer(x))
    if residual is not None:
        y = layers.Add()([y, residual])
    return _by_activation(AFTER, layers.Activation(activation)(y))


def normalized(layer: layers.Layer, x: Any) -> Any:
    """`layer` with what goes before an activation, and none after it (a ResNet's projection
    shortcut: batchnorm, when the model puts it before activations)."""
    return _by_activation(BEFORE, layer(x))


def block(x: Any) -> Any:
    """The end of a conv block (after its pooling)."""
    return _at("block", x)


def features(x: Any) -> Any:
    """The features the classifier reads (after the last hidden layer, or each of them)."""
    return _at("features", x)


def batchnorm_side(side: str) -> Callable:
    """Decorates a builder whose notebook put batchnorm `side` of the activation
    (`after_activation`); undecorated builders put it before, as Ioffe & Szegedy did."""
    def mark(builder: Callable) -> Callable:
        builder.batchnorm_side = side
        return builder
    return mark
