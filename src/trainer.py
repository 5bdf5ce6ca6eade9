"""Compile, fit and evaluate a Keras model on whatever accelerator Keras sees."""

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import keras
import numpy as np

from src.config import OptimizerConfig, OptimizerName, TrainerConfig
from src.data import Splits


def device() -> str:
    """'GPU' or 'CPU' plus the device list, as the backend reports it."""
    devices = keras.distribution.list_devices()
    kind = "GPU" if any(d.lower().startswith("gpu") for d in devices) else "CPU"
    return f"{kind} ({', '.join(devices)}; keras backend {keras.backend.backend()})"


OPTIMIZERS = {
    OptimizerName.adam: lambda cfg: keras.optimizers.Adam(learning_rate=cfg.lr),
    OptimizerName.sgd: lambda cfg: keras.optimizers.SGD(learning_rate=cfg.lr,
                                                        momentum=cfg.momentum),
}


def optimizer(cfg: OptimizerConfig) -> keras.optimizers.Optimizer:
    return OPTIMIZERS[cfg.name](cfg)


class EpochTimer(keras.callbacks.Callback):
    """Adds `epoch_seconds` (training + validation wall time) to each epoch's logs."""

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_seconds"] = time.perf_counter() - self._start


@dataclass
class Evaluation:
    test_loss: float
    test_accuracy: float
    y_pred: np.ndarray  # predicted class per test image


def training_input(data: Splits, batch_size: int) -> dict:
    """`fit`'s training data, in a new order every epoch (see `reshuffled_batches`)."""
    if keras.backend.backend() == "tensorflow":
        batches = reshuffled_batches(data.x_train, data.y_train, batch_size)
        return {"x": batches, "shuffle": False}  # the pipeline shuffles; Keras would warn
    return {"x": data.x_train, "y": data.y_train, "batch_size": batch_size, "shuffle": True}


def reshuffled_batches(x: np.ndarray, y: np.ndarray, batch_size: int):
    """A tf.data pipeline that draws a new permutation of the training set every epoch.

    Not `fit(x, y, shuffle=True)`: once `keras.utils.set_random_seed` has run, Keras 3's array
    adapter re-creates its TensorFlow shuffle with the same seed each epoch, so every epoch sees
    one batch order (docs/reproduction.md measures what that costs). `reshuffle_each_iteration`
    gives each epoch its own order, still fixed by the global seed.
    """
    import tensorflow as tf  # this path is only taken on the TensorFlow backend

    images, labels = tf.constant(x), tf.constant(y)
    return (
        tf.data.Dataset.range(len(y))
        .shuffle(len(y), reshuffle_each_iteration=True)
        .batch(batch_size)
        .map(lambda i: (tf.gather(images, i), tf.gather(labels, i)), tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )


def fit(
    model: keras.Model,
    data: Splits,
    cfg: TrainerConfig,
    opt: OptimizerConfig,
    callbacks: list[keras.callbacks.Callback],
    backup_dir: Optional[Path] = None,
) -> keras.callbacks.History:
    """Train with sparse labels (equivalent to the homework's one-hot + categorical CE).

    With `backup_dir`, Keras backs up weights and optimizer state after every epoch and a
    re-started fit continues after the last completed one; the backup is deleted when fit ends.
    It runs after `callbacks`, so an epoch is logged before it counts as done.
    """
    if backup_dir is not None:
        backup = keras.callbacks.BackupAndRestore(str(backup_dir), double_checkpoint=True)
        callbacks = [*callbacks, backup]
    model.compile(
        optimizer=optimizer(opt),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile="auto" if cfg.jit_compile is None else cfg.jit_compile,
        steps_per_execution=cfg.steps_per_execution,
    )
    return model.fit(
        **training_input(data, cfg.batch_size),
        epochs=cfg.epochs,
        validation_data=(data.x_val, data.y_val),
        callbacks=[EpochTimer(), *callbacks],
        verbose=cfg.verbose,
    )


def evaluate(model: keras.Model, data: Splits, batch_size: int) -> Evaluation:
    """One pass over the test set gives loss, accuracy and the predictions for the plots."""
    probs = model.predict(data.x_test, batch_size=batch_size, verbose=0)
    loss = keras.losses.SparseCategoricalCrossentropy()(data.y_test, probs)
    y_pred = probs.argmax(axis=1)
    return Evaluation(float(loss), float(np.mean(y_pred == data.y_test)), y_pred)
