"""Which devices a run trains on. Data-parallel training itself, over two simulated devices:
tests/test_trainer_jax.py."""

import pytest

from src import devices
from src.config import ConfigError, TrainerConfig
from tests.test_trainer import tiny_splits


def test_one_device_unless_data_parallel_is_asked_for():
    assert devices.distribute(TrainerConfig(batch_size=64), tiny_splits()) == {
        "devices": 1, "global_batch_size": 64}


def test_data_parallel_needs_the_jax_backend():
    cfg = TrainerConfig(data_parallel=True)  # these tests run on TensorFlow (KERAS_BACKEND)
    with pytest.raises(ConfigError, match="trainer.data_parallel=true needs Keras' JAX backend"):
        devices.distribute(cfg, tiny_splits())
