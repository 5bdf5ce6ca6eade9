"""Which devices a run trains on: one, or with `trainer.data_parallel` every local one."""

import os

import keras

from src.config import ConfigError, TrainerConfig
from src.data import Splits
from src.sweeps.gpus import SHARED


def share_gpus() -> list[str]:
    """Where the sweep launcher runs several jobs on each GPU (src.sweeps.gpus), this job's
    TensorFlow takes GPU memory as it needs it rather than all of it at start. Call before the
    first op. Returns the GPUs it asked that of: none where no GPU is visible."""
    if int(os.environ.get(SHARED, "1")) <= 1 or keras.backend.backend() != "tensorflow":
        return []  # JAX: the launcher sets XLA_PYTHON_CLIENT_PREALLOCATE=false instead
    import tensorflow as tf

    visible = tf.config.list_physical_devices("GPU")
    for gpu in visible:
        tf.config.experimental.set_memory_growth(gpu, True)
    return [gpu.name for gpu in visible]


def device() -> str:
    """'GPU' or 'CPU' plus the device list, as the backend reports it."""
    devices = keras.distribution.list_devices()
    kind = "GPU" if any(d.lower().startswith("gpu") for d in devices) else "CPU"
    return f"{kind} ({', '.join(devices)}; keras backend {keras.backend.backend()})"


def distribute(cfg: TrainerConfig, data: Splits) -> dict[str, int]:
    """With `trainer.data_parallel`, train data-parallel over every local device (Keras 3's
    DataParallel: weights replicated, each batch of `batch_size` split evenly among them).
    Call before building the model. Returns the devices and batch sizes, as params."""
    devices = keras.distribution.list_devices()
    if not cfg.data_parallel:
        keras.distribution.set_distribution(None)  # global: an earlier job in this process
        return {"devices": 1, "global_batch_size": cfg.batch_size}
    if keras.backend.backend() != "jax":
        raise ConfigError("trainer.data_parallel=true needs Keras' JAX backend, the one Keras 3 "
                          f"distributes (this is {keras.backend.backend()}): KERAS_BACKEND=jax")
    # Every batch, the last of each split included, must split evenly (JAX shards it so).
    sizes = {"trainer.batch_size": cfg.batch_size, **{
        f"the last batch of {split}": len(y) % cfg.batch_size
        for split, y in (("train", data.y_train), ("val", data.y_val), ("test", data.y_test))}}
    for what, size in sizes.items():
        if size % len(devices):
            raise ConfigError(
                f"trainer.data_parallel=true: {what} ({size} images) does not split over "
                f"{len(devices)} devices; choose a trainer.batch_size (and split sizes) whose "
                f"every batch is a multiple of {len(devices)}")
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    return {"devices": len(devices), "global_batch_size": cfg.batch_size,
            "per_device_batch_size": cfg.batch_size // len(devices)}


class InOrderBatchEnds(keras.callbacks.Callback):
    """Keeps Keras' batch-end work in the calling thread, for data-parallel runs. Keras 3
    otherwise converts each batch's outputs to NumPy in a thread pool; a batch sharded over
    devices is gathered from all of them, and two such gathers at once deadlock XLA's CPU
    collectives (a rendezvous timeout, then an abort, seen here with 2 simulated devices).
    Keras dispatches synchronously as soon as one callback overrides these hooks."""

    def on_train_batch_end(self, batch, logs=None):
        pass

    def on_test_batch_end(self, batch, logs=None):
        pass

    def on_predict_batch_end(self, batch, logs=None):
        pass


def in_order() -> list[keras.callbacks.Callback]:
    """The callbacks `fit` and `predict` need besides their own under a distribution."""
    return [InOrderBatchEnds()] if keras.distribution.distribution() is not None else []
