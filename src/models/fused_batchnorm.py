"""Batch normalization on TensorFlow's fused kernel (`FusedBatchNormV3`): Keras' own math in
one op instead of a dozen. Keras 3 computes batch normalization unfused on every backend
(Keras 2 used this kernel); for the notebook's CNN with batch normalization the fused kernel
trains 1.2x to 1.6x as many images a CPU-second, depending on the CPU (BENCHMARKS.md, 1b).

`use_fused_kernel` moves a built model's BatchNormalization layers onto it where it applies
(TensorFlow; channels last; 2-D or 4-D input; no mask, renorm or synchronized statistics).
Other backends keep Keras' layer. Saved models hold Keras' layer (`keras_layers`): the weights
are the same, so a saved model loads without this module.
"""

import contextlib
from collections.abc import Iterator

import keras
from keras import ops

FUSED_MIN_EPSILON = 1.001e-5  # the kernel raises a smaller epsilon to this (cuDNN's minimum)
KERAS, FUSED = "keras", "FusedBatchNormV3"  # what `batchnorm.kernel` records


class FusedBatchNormalization(keras.layers.BatchNormalization):
    """Keras' BatchNormalization, computed by the fused kernel."""

    def fused(self, rank: int, mask=None) -> bool:
        """Whether `call` runs on the fused kernel for inputs of this rank (else Keras')."""
        return (keras.backend.backend() == "tensorflow" and mask is None and not self.renorm
                and not self.synchronized and rank in (2, 4) and self.center and self.scale
                and self.axis in (-1, rank - 1) and self.epsilon >= FUSED_MIN_EPSILON)

    def call(self, inputs, training=None, mask=None):
        if not self.fused(len(inputs.shape), mask):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf

        x = tf.cast(inputs, "float32")  # as Keras computes it: float32 under mixed precision
        if len(inputs.shape) == 2:  # (batch, features) as (batch, 1, 1, features)
            x = x[:, None, None, :]
        if training and self.trainable:
            y, mean, variance = tf.compat.v1.nn.fused_batch_norm(
                x, self.gamma, self.beta, epsilon=self.epsilon, is_training=True)
            # The kernel normalizes by the batch's variance but returns it Bessel-corrected
            # (n / (n - 1)); Keras averages the uncorrected one into the moving variance.
            count = tf.cast(tf.size(x) // tf.shape(x)[-1], "float32")
            variance = variance * (count - 1.0) / count
            self.moving_mean.assign(
                self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
            self.moving_variance.assign(
                self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        else:
            y, _, _ = tf.compat.v1.nn.fused_batch_norm(
                x, self.gamma, self.beta, mean=self.moving_mean, variance=self.moving_variance,
                epsilon=self.epsilon, is_training=False)
        if len(inputs.shape) == 2:
            y = y[:, 0, 0, :]
        return ops.cast(y, self.compute_dtype)


def _batchnorm_layers(model: keras.Model) -> list:
    return [layer for layer in model._flatten_layers(include_self=False)
            if isinstance(layer, keras.layers.BatchNormalization)]


def use_fused_kernel(model: keras.Model) -> None:
    """Run each of the built `model`'s BatchNormalization layers on the fused kernel where it
    applies.

    Each such layer changes class in place, before anything is traced: it keeps its weights,
    its name and the random draws its initializers made, so the seeds of everything after it,
    and so the run's other numbers, are those a model of Keras' layers gets. (Building fused
    layers anew would draw their initial weights again.)
    """
    for layer in _batchnorm_layers(model):
        if (type(layer) is keras.layers.BatchNormalization
                and FusedBatchNormalization.fused(layer, layer.input_spec.ndim)):
            layer.__class__ = FusedBatchNormalization


def kernel(model: keras.Model) -> str:
    """What `batchnorm.kernel` records: the kernels the model's batch normalization runs on
    ("FusedBatchNormV3", "keras", both joined by "+"), or "none"."""
    kinds = {FUSED if isinstance(layer, FusedBatchNormalization) else KERAS
             for layer in _batchnorm_layers(model)}
    return "+".join(sorted(kinds)) or "none"


@contextlib.contextmanager
def keras_layers(model: keras.Model) -> Iterator[keras.Model]:
    """`model` with Keras' BatchNormalization in place of each fused one, for saving: the same
    weights and math, loadable wherever Keras is."""
    fused = [layer for layer in _batchnorm_layers(model)
             if isinstance(layer, FusedBatchNormalization)]
    for layer in fused:
        layer.__class__ = keras.layers.BatchNormalization
    try:
        yield model
    finally:
        for layer in fused:
            layer.__class__ = FusedBatchNormalization
