"""The regularizers `conf/reg/` composes: each is a function of its YAML's keys that says
what it adds at each kind of place a builder marks (`src.models.sites`).

A new regularizer is one such function and one YAML naming it (`_target_`); yours can live in
your own package. Its arguments are checked here, before anything heavy loads, so keep Keras
imports inside the hooks, which run only while a model is built.
"""

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, Optional

from src.targets import InvalidArgument

Hook = Callable[[Any], Any]  # a Keras tensor in, a tensor out (with layers added)
SIDES = ("before_activation", "after_activation")


@dataclass
class Regularizer:
    """What a regularizer adds at each kind of place; None adds nothing there. A hook given
    for a kind of place the model lacks is refused, as a setting with no effect."""

    hidden: Optional[Hook] = None  # by each hidden layer's activation, on the model's side
    before_activation: Optional[Hook] = None  # between a hidden layer and its activation
    after_activation: Optional[Hook] = None  # after a hidden layer's activation
    block: Optional[Hook] = None  # after each conv block (its pooling)
    features: Optional[Hook] = None  # on the features the classifier reads
    # On the built model; returns how many layers it changed (0: it had no effect).
    model: Optional[Callable[[Any], int]] = None
    # The setting behind each hook, for messages: {"block": "conv=0.25"}.
    settings: dict[str, str] = field(default_factory=dict)

    def hooks(self) -> dict[str, Callable]:
        return {f.name: getattr(self, f.name) for f in fields(self)
                if f.name != "settings" and getattr(self, f.name) is not None}


def _rate(name: str, value: float) -> float:
    if not 0.0 <= value < 1.0:
        raise InvalidArgument(name, value, "in [0, 1)")
    return value


def dropout(conv: float = 0.0, dense: float = 0.0) -> Regularizer:
    """Dropout at rate `conv` after each conv block and `dense` on the features; 0: none
    there."""
    from_conv, from_dense = _rate("conv", conv), _rate("dense", dense)

    def drop(rate: float) -> Hook:
        def hook(x):
            from keras import layers

            return layers.Dropout(rate)(x)
        return hook

    if not (from_conv or from_dense):
        raise InvalidArgument("conv", conv, "> 0, or dense > 0 (dropout at rate 0 everywhere "
                              "adds nothing: choose reg=none)")
    return Regularizer(block=drop(conv) if conv else None,
                       features=drop(dense) if dense else None,
                       settings={"block": f"conv={conv}", "features": f"dense={dense}"})


def batchnorm(placement: Optional[str] = None) -> Regularizer:
    """Batch normalization by every hidden layer: before or after its activation (null: where
    the model's builder puts it, `sites.batchnorm_side`)."""
    if placement is not None and placement not in SIDES:
        raise InvalidArgument("placement", placement, f"one of {', '.join(SIDES)}, or null")

    def normalize(x):
        from keras import layers

        return layers.BatchNormalization()(x)

    return Regularizer(**{placement or "hidden": normalize})


def l2(weight: float = 1e-4) -> Regularizer:
    """An L2 penalty `weight * sum(w**2)` on every kernel (conv and dense, the classifier's
    included; not biases or batchnorm), added to the loss as Keras' kernel_regularizer."""
    if not weight > 0:
        raise InvalidArgument("weight", weight, "> 0 (0 adds no penalty: choose reg=none)")

    def penalize(model) -> int:
        import keras

        changed = 0
        for layer in model._flatten_layers(include_self=False):  # nested models too
            if getattr(layer, "kernel_regularizer", None) is None and hasattr(layer, "kernel"):
                # The layer is built: the penalty goes on its variable (what Keras' loss reads)
                # and on the layer (what its saved config says).
                layer.kernel_regularizer = keras.regularizers.L2(weight)
                layer.kernel.regularizer = layer.kernel_regularizer
                changed += 1
        return changed

    return Regularizer(model=penalize)
