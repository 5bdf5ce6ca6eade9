"""The trainer: a new batch order every epoch, speed knobs that keep the per-epoch bookkeeping,
and a backup that survives a kill."""

import warnings

import keras
import numpy as np
import pytest

from src import trainer
from src.config import Config, TrainerConfig
from src.data import Splits


def tiny_splits(n: int = 200) -> Splits:
    rng = np.random.default_rng(0)
    x = rng.random((n, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, n)
    return Splits(x, y, x[:50], y[:50], x[:50], y[:50], [str(d) for d in range(10)], "random")


def test_steps_per_execution_still_reports_every_epoch(built):
    class Seen(keras.callbacks.Callback):
        epochs: list = []

        def on_epoch_end(self, epoch, logs=None):
            self.epochs.append((epoch, sorted(logs)))

    keras.utils.set_random_seed(0)
    model = built("model=cnn")
    cfg = TrainerConfig(epochs=2, verbose=0, steps_per_execution=16)  # more than the 7 batches
    history = trainer.fit(model, tiny_splits(), Config(trainer=cfg), [Seen()])
    keys = ["accuracy", "epoch_seconds", "loss", "val_accuracy", "val_loss"]
    assert Seen.epochs == [(0, keys), (1, keys)]
    assert len(history.history["epoch_seconds"]) == 2
    assert all(s > 0 for s in history.history["epoch_seconds"])


def test_fit_on_the_reshuffling_pipeline_raises_no_warning(built):
    keras.utils.set_random_seed(0)
    model = built("model=cnn")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. Keras' "shuffle=True ... will be ignored"
        trainer.fit(model, tiny_splits(64), Config(trainer=TrainerConfig(epochs=1, verbose=0)), [])


def epoch_orders(seed: int) -> list[list[int]]:
    keras.utils.set_random_seed(seed)
    labels = np.arange(20)
    batches = trainer.reshuffled_batches(labels.reshape(20, 1).astype("float32"), labels, 20)
    return [next(iter(batches))[1].numpy().tolist() for _ in range(3)]


def test_the_training_pipeline_does_not_autotune():
    # tf.data's autotuning made deleting an epoch's iterator block training for ~20 s
    labels = np.arange(20)
    batches = trainer.reshuffled_batches(labels.reshape(20, 1).astype("float32"), labels, 4)
    assert batches.options().autotune.enabled is False


def test_training_data_is_reshuffled_every_epoch_and_reproducible_from_the_seed():
    first, again, other = epoch_orders(0), epoch_orders(0), epoch_orders(1)
    assert len({tuple(order) for order in first}) == 3  # a new order each epoch
    assert all(sorted(order) == list(range(20)) for order in first)
    assert first == again and first != other


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs, not even `finally` blocks in Keras' fit."""


class WeightsAt(keras.callbacks.Callback):
    """The model's weights when each epoch begins and ends."""

    def __init__(self):
        super().__init__()
        self.begin, self.end = {}, {}

    def on_epoch_begin(self, epoch, logs=None):
        self.begin[epoch] = [w.copy() for w in self.model.get_weights()]

    def on_epoch_end(self, epoch, logs=None):
        self.end[epoch] = [w.copy() for w in self.model.get_weights()]


@pytest.mark.parametrize("torn_save", [1, 2])
def test_a_kill_while_the_backup_is_written_resumes_from_the_last_complete_epoch(
        tmp_path, monkeypatch, torn_save, built):
    """The process dies in the middle of writing epoch `torn_save`'s weights (half a file on
    disk); a re-started fit restores the epoch before it, or starts afresh if there is none."""
    real_save, saves = keras.Model.save_weights, []

    def save_then_die(model, filepath, *args, **kwargs):
        real_save(model, filepath, *args, **kwargs)
        saves.append(filepath)
        if len(saves) == torn_save:
            with open(filepath, "r+b") as file:
                file.truncate(file.seek(0, 2) // 2)
            raise Killed

    cfg, splits = Config(trainer=TrainerConfig(epochs=3, verbose=0)), tiny_splits()
    backup = tmp_path / "backup"
    first = WeightsAt()
    keras.utils.set_random_seed(0)
    model = built("model=cnn")
    with monkeypatch.context() as patch:
        patch.setattr(keras.Model, "save_weights", save_then_die)
        with pytest.raises(Killed):
            trainer.fit(model, splits, cfg, [first], backup)

    resumed = WeightsAt()
    history = trainer.fit(built("model=cnn"), splits, cfg, [resumed], backup)
    done = torn_save - 1  # epochs whose backup was complete
    assert len(history.history["loss"]) == 3 - done
    assert min(resumed.begin) == done
    if done:
        for restored, saved in zip(resumed.begin[done], first.end[done - 1], strict=True):
            np.testing.assert_array_equal(restored, saved)
    assert not backup.exists()  # deleted once fit ends

