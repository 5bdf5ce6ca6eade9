"""Compile, fit and evaluate a Keras model on whatever accelerator Keras sees."""

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import keras
import numpy as np

from src import evaluation, optim
from src.augment import augmenter
from src.config import Config
from src.data import Splits
from src.devices import in_order


class EpochTimer(keras.callbacks.Callback):
    """Adds `epoch_seconds` (training + validation wall time) to each epoch's logs."""

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_seconds"] = time.perf_counter() - self._start


class Timeline(keras.callbacks.Callback):
    """Where a job's time goes besides training: `startup_seconds`, from `started` (the job's
    start, time.monotonic) to the first training step, and `finish_seconds`, from the end of
    fit to the call of `seconds()` (evaluation and artifacts)."""

    def __init__(self, started: float):
        super().__init__()
        self.started = started
        self.first_step = self.fit_end = None

    def seconds(self) -> dict[str, float]:
        """As metrics; a fit resumed after its last epoch ran no step, so has no start-up."""
        timings = {"finish_seconds": time.monotonic() - self.fit_end}
        if self.first_step is not None:
            timings["startup_seconds"] = self.first_step - self.started
        return timings

    def on_train_batch_begin(self, batch, logs=None):
        if self.first_step is None:
            self.first_step = time.monotonic()

    def on_train_end(self, logs=None):
        self.fit_end = time.monotonic()


class EpochLine(keras.callbacks.Callback):
    """One line per epoch, headed by the run's name, so jobs side by side stay readable:
    `mnist-cnn-dropout-s0 epoch 3/10: loss 0.0812 accuracy 0.9751 ... (41.2 s)`."""

    def __init__(self, run_name: str, epochs: int):
        super().__init__()
        self.run_name, self.epochs = run_name, epochs

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        seconds = logs.pop("epoch_seconds", None)
        order = sorted(logs, key=lambda k: (k.startswith("val_"), k.removeprefix("val_") != "loss"))
        values = " ".join(f"{key} {logs[key]:.4f}" for key in order)
        took = f" ({seconds:.1f} s)" if seconds is not None else ""
        # One write per line (flushed), so lines of processes sharing the terminal never mix.
        print(f"{self.run_name} epoch {epoch + 1}/{self.epochs}: {values}{took}", flush=True)


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """Keras' BackupAndRestore, but a kill at any instant leaves a backup that loads.

    Keras rewrites `latest.weights.h5` in place; loky stops a sweep's workers with SIGKILL, and
    one landing mid-write left a torn file that no resume could open (`double_checkpoint`
    does not cover the first epoch). Here each epoch's weights go to a new file, and the
    metadata naming it is replaced in one rename: that rename is the commit point.
    """

    def _save_model(self):
        backup = Path(self.backup_dir)
        backup.mkdir(parents=True, exist_ok=True)
        weights = f"epoch-{self._current_epoch}-batch-{self._last_batch_seen}.weights.h5"
        self.model.save_weights(backup / weights, overwrite=True)
        metadata = {"epoch": self._current_epoch, "batch": self._last_batch_seen,
                    "weights": weights}
        partial = Path(f"{self._training_metadata_path}.partial")
        partial.write_text(json.dumps(metadata))
        for written in (backup / weights, partial):  # on disk before the commit: a host crash too
            with open(written, "rb") as file:
                os.fsync(file.fileno())
        partial.replace(self._training_metadata_path)
        for stale in backup.glob("*.weights.h5"):
            if stale.name != weights:
                stale.unlink()

    def _load_model(self):
        metadata_path = Path(self._training_metadata_path)
        if not metadata_path.exists():
            return  # nothing committed yet: train from the start
        metadata = json.loads(metadata_path.read_text())
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        weights = metadata.get("weights", "latest.weights.h5")  # or Keras' own (CHANGELOG)
        self.model.load_weights(Path(self.backup_dir) / weights)
        self.model._initial_epoch = metadata["epoch"]  # how Keras' own callback tells fit


@dataclass
class Evaluation:
    test_loss: float
    test_accuracy: float  # over the `trainer.tta` views
    y_pred: np.ndarray  # predicted class per test image
    probabilities: np.ndarray  # (test images, classes): the softmax the prediction came from
    plain_accuracy: Optional[float] = None  # without test-time augmentation, where it is on


def training_input(data: Splits, cfg: Config, one_hot_classes: int = 0) -> dict:
    """`fit`'s training data, in a new order every epoch (see `reshuffled_batches`), augmented
    as configured, with `targets` for the loss."""
    augment, y = augmenter(cfg.augment), targets(data.y_train, one_hot_classes)
    if keras.backend.backend() == "tensorflow" or augment is not None:
        batches = reshuffled_batches(data.x_train, y, cfg.trainer.batch_size, augment)
        return {"x": batches, "shuffle": False}  # the pipeline shuffles; Keras would warn
    return {"x": data.x_train, "y": y, "batch_size": cfg.trainer.batch_size, "shuffle": True}


def targets(labels: np.ndarray, one_hot_classes: int = 0) -> np.ndarray:
    """Integer labels, or one-hot rows of `one_hot_classes` where the loss smooths them
    (`optim.loss`)."""
    return np.eye(one_hot_classes, dtype="float32")[labels] if one_hot_classes else labels


def reshuffled_batches(x: np.ndarray, y: np.ndarray, batch_size: int,
                       augment: Optional[keras.layers.Layer] = None):
    """A tf.data pipeline that draws a new permutation of the training set every epoch.

    Not `fit(x, y, shuffle=True)`: once `keras.utils.set_random_seed` has run, Keras 3's array
    adapter re-creates its TensorFlow shuffle with the same seed each epoch, so every epoch sees
    one batch order (docs/reproduction.md measures what that costs). `reshuffle_each_iteration`
    gives each epoch its own order, still fixed by the global seed. `augment` transforms each
    batch (training only: validation data does not pass through here).
    """
    import tensorflow as tf  # the input pipeline of the TensorFlow backend, and of augmentation

    images, labels = tf.constant(x), tf.constant(y)
    batches = (
        tf.data.Dataset.range(len(y))
        .shuffle(len(y), reshuffle_each_iteration=True)
        .batch(batch_size)
        .map(lambda i: (tf.gather(images, i), tf.gather(labels, i)), num_parallel_calls=2)
    )
    if augment is not None:
        # One batch at a time: the layers draw from a seed generator whose state each call
        # advances, and parallel calls would take the draws in a different order every run.
        batches = batches.map(lambda xb, yb: (augment(xb, training=True), yb))
    # Fixed sizes, not AUTOTUNE: with tf.data's autotuning on, deleting an epoch's iterator
    # (Keras makes one an epoch) blocked training for ~20 s at about half the epoch starts of a
    # run without validation, both cores idle. The same batches either way.
    options = tf.data.Options()
    options.autotune.enabled = False
    return batches.prefetch(2).with_options(options)


def fit(
    model: keras.Model,
    data: Splits,
    cfg: Config,
    callbacks: list[keras.callbacks.Callback],
    backup_dir: Optional[Path] = None,
    run_name: str = "",
) -> keras.callbacks.History:
    """Train with integer labels (equivalent to the homework's one-hot + categorical CE), or
    one-hot ones where `trainer.label_smoothing` asks Keras to smooth them.

    `trainer.verbose`: 2 prints an `EpochLine` per epoch, 1 Keras' progress bar (for single runs:
    bars of jobs side by side would interleave), 0 nothing.

    With `backup_dir`, weights and optimizer state are backed up after every epoch and a
    re-started fit continues after the last completed one; the backup is deleted when fit ends.
    It runs after `callbacks`, so an epoch is logged before it counts as done.
    """
    if backup_dir is not None:
        callbacks = [*callbacks, AtomicBackupAndRestore(str(backup_dir))]
    run = cfg.trainer
    total_steps = run.epochs * -(-len(data.y_train) // run.batch_size)  # for the lr schedule
    model.compile(
        optimizer=optim.optimizer(cfg.optimizer, cfg.schedule, total_steps,
                                  run.ema_momentum if run.ema else None),
        loss=optim.loss(run.label_smoothing),
        metrics=["accuracy"],
        jit_compile="auto" if run.jit_compile is None else run.jit_compile,
        steps_per_execution=run.steps_per_execution,
    )
    lines = [EpochLine(run_name or model.name, run.epochs)] if run.verbose == 2 else []
    validating = len(data.y_val) > 0  # none in a final fit (dataset.final_fit)
    scores = [evaluation.HeldOutScores(data.x_val, data.y_val, run.tta, run.batch_size)] \
        if validating and (run.tta != "none" or run.ema) else []  # first: later ones see them
    one_hot_classes = len(data.class_names) if run.label_smoothing > 0 else 0
    return model.fit(
        **training_input(data, cfg, one_hot_classes),
        epochs=run.epochs,
        validation_data=(data.x_val, targets(data.y_val, one_hot_classes)) if validating else None,
        callbacks=[*scores, EpochTimer(), *lines, *callbacks, *in_order()],
        verbose=1 if run.verbose == 1 else 0,
    )


def evaluate(model: keras.Model, data: Splits, batch_size: int, tta: str = "none") -> Evaluation:
    """One pass over each TTA view of the test set gives loss, accuracy and the predictions for
    the plots; with views, the first pass alone gives the plain accuracy too. After `fit` the
    model holds the averaged weights where `trainer.ema` asked for them."""
    outputs = evaluation.predictions(model, data.x_test, tta, batch_size)
    probs = evaluation.average(outputs)
    loss = keras.losses.SparseCategoricalCrossentropy()(data.y_test, probs)
    plain = None if tta == "none" else evaluation.accuracy(outputs[0], data.y_test)
    return Evaluation(float(loss), evaluation.accuracy(probs, data.y_test), probs.argmax(axis=1),
                      probs, plain)
