"""The trainer's speed knobs keep the experiment's math and its per-epoch bookkeeping."""

import subprocess
import sys

import keras
import numpy as np
import pytest

from src import trainer
from src.config import ModelConfig, OptimizerConfig, RegConfig, TrainerConfig
from src.data import Splits
from src.fused_adam import FusedAdam
from src.models import build
from tests.conftest import ROOT, cli_env


def tiny_splits(n: int = 200) -> Splits:
    rng = np.random.default_rng(0)
    x = rng.random((n, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, n)
    return Splits(x, y, x[:50], y[:50], x[:50], y[:50], [str(d) for d in range(10)], "random")


def test_fused_adam_takes_the_same_steps_as_keras_adam():
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, 64)
    weights = []
    for opt in (keras.optimizers.Adam(1e-3), FusedAdam(1e-3)):
        keras.utils.set_random_seed(0)
        model = build(ModelConfig("cnn"), RegConfig())
        model.compile(optimizer=opt, loss="sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        weights.append(model.get_weights())
    for plain, fused in zip(*weights):
        np.testing.assert_allclose(fused, plain, rtol=1e-4, atol=1e-6)


def test_steps_per_execution_still_reports_every_epoch():
    class Seen(keras.callbacks.Callback):
        epochs: list = []

        def on_epoch_end(self, epoch, logs=None):
            self.epochs.append((epoch, sorted(logs)))

    keras.utils.set_random_seed(0)
    model = build(ModelConfig("cnn"), RegConfig())
    cfg = TrainerConfig(epochs=2, verbose=0, steps_per_execution=16)  # more than the 7 batches
    history = trainer.fit(model, tiny_splits(), cfg, OptimizerConfig(), [Seen()])
    keys = ["accuracy", "epoch_seconds", "loss", "val_accuracy", "val_loss"]
    assert Seen.epochs == [(0, keys), (1, keys)]
    assert len(history.history["epoch_seconds"]) == 2
    assert all(s > 0 for s in history.history["epoch_seconds"])


def test_data_on_device_is_refused_outside_jax():
    if keras.backend.backend() == "jax":
        pytest.skip("this run uses the JAX backend")
    with pytest.raises(ValueError, match="trainer.data_on_device.*KERAS_BACKEND=jax"):
        trainer.training_input(tiny_splits(), TrainerConfig(data_on_device=True))


def test_train_module_imports_no_tensorflow_before_the_config_is_checked():
    heavy = "{'tensorflow', 'keras', 'mlflow'}"
    code = f"import sys, src.train; print(sorted({heavy} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=cli_env(),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def epoch_orders(seed: int) -> list[list[int]]:
    keras.utils.set_random_seed(seed)
    labels = np.arange(20)
    batches = trainer.reshuffled_batches(labels.reshape(20, 1).astype("float32"), labels, 20)
    return [next(iter(batches))[1].numpy().tolist() for _ in range(3)]


def test_training_data_is_reshuffled_every_epoch_and_reproducible_from_the_seed():
    first, again, other = epoch_orders(0), epoch_orders(0), epoch_orders(1)
    assert len({tuple(order) for order in first}) == 3  # a new order each epoch
    assert all(sorted(order) == list(range(20)) for order in first)
    assert first == again and first != other
