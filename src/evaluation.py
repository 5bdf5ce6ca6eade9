"""How a trained model is scored on held-out images: over the test-time augmentation views of
`trainer.tta`, and with the averaged weights of `trainer.ema`.

Test-time augmentation averages the softmax over each image and its mirror (`flip`), and over
those two moved one pixel down-right and up-left (`flip+shift`): the mirror-and-translate TTA of
Keller Jordan's airbench (arXiv:2404.00498), with reflected edges as there. The views of a
mirrored image are the views of the original, so a model scores the same on a test set and on
its mirror image.
"""

import contextlib
from collections.abc import Iterator

import keras
import numpy as np

from src.devices import in_order


def views(x: np.ndarray, tta: str) -> list[np.ndarray]:
    """The images each prediction averages over (NHWC), for a `trainer.tta` mode."""
    if tta == "none":
        return [x]
    originals = [x, x[:, :, ::-1, :]]
    if tta == "flip":
        return originals
    return [*originals, *(shifted(v, step) for v in originals for step in (1, -1))]


def shifted(x: np.ndarray, step: int) -> np.ndarray:
    """`x` moved `step` pixels along both image axes, the edge filled by reflection."""
    pad = abs(step)
    padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")
    start = pad - step
    return padded[:, start:start + x.shape[1], start:start + x.shape[2], :]


def predictions(model: keras.Model, x: np.ndarray, tta: str,
                batch_size: int) -> list[np.ndarray]:
    """The softmax of each view of `x`, the images as they are first."""
    return [model.predict(view, batch_size=batch_size, verbose=0, callbacks=in_order())
            for view in views(x, tta)]


def average(outputs: list[np.ndarray]) -> np.ndarray:
    """The views' mean softmax. Summed in float64: the views of a mirrored set come in another
    order, and must not round to another argmax."""
    return np.mean(np.asarray(outputs, dtype=np.float64), axis=0).astype(outputs[0].dtype)


def accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(probs.argmax(axis=1) == labels))


@contextlib.contextmanager
def averaged_weights(model: keras.Model) -> Iterator[None]:
    """The optimizer's moving average of the weights in the model, the trained ones back after.

    Keras swaps the average in for good at the end of `fit` (`finalize_variable_values`); this
    lends it for a validation pass in between. Keras keeps the average in the optimizer's
    `_model_variables_moving_average`, with no public accessor.
    """
    optimizer = model.optimizer
    if optimizer is None or not getattr(optimizer, "use_ema", False) or not optimizer.built:
        yield
        return
    trained = [variable.numpy() for variable in model.trainable_variables]
    for variable, average in zip(model.trainable_variables,
                                 optimizer._model_variables_moving_average, strict=True):
        variable.assign(average.value)
    try:
        yield
    finally:
        for variable, value in zip(model.trainable_variables, trained, strict=True):
            variable.assign(value)


class HeldOutScores(keras.callbacks.Callback):
    """Each epoch's `val_accuracy` and `val_loss` as the test set is scored: over the TTA views
    and with the averaged weights. Keras' own validation (the trained weights, the images as
    they are) stays beside them as `val_accuracy_plain` and `val_loss_plain`."""

    def __init__(self, x_val: np.ndarray, y_val: np.ndarray, tta: str, batch_size: int):
        super().__init__()
        self.x_val, self.y_val, self.tta, self.batch_size = x_val, y_val, tta, batch_size

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or "val_accuracy" not in logs:
            return
        with averaged_weights(self.model):
            probs = average(predictions(self.model, self.x_val, self.tta, self.batch_size))
        for key in ("val_accuracy", "val_loss"):
            logs[f"{key}_plain"] = logs[key]
        logs["val_accuracy"] = accuracy(probs, self.y_val)
        logs["val_loss"] = float(keras.losses.SparseCategoricalCrossentropy()(self.y_val, probs))
