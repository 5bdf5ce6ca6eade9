"""Training batches cut from a copy of the training set that lives on the accelerator.

With Keras' JAX backend on a GPU, `fit` on NumPy arrays gathers each batch on the host and
copies it over; at large batch sizes that copy, not the model, can bound a step. Here the
images go to the device once, and each epoch's shuffle and every batch's gather run there.
"""

import math

import keras


class DeviceBatches(keras.utils.PyDataset):
    """Shuffled (x, y) batches of `batch_size`, the last one partial, as `fit` on arrays gives."""

    def __init__(self, x, y, batch_size: int):
        super().__init__()
        self.x, self.y = keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y)
        self.batch_size = batch_size
        self.seed = keras.random.SeedGenerator()  # seeded by keras.utils.set_random_seed
        self.on_epoch_end()

    def __len__(self) -> int:
        return math.ceil(self.x.shape[0] / self.batch_size)

    def on_epoch_end(self) -> None:
        self.order = keras.random.shuffle(keras.ops.arange(self.x.shape[0]), seed=self.seed)

    def __getitem__(self, index: int):
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        return keras.ops.take(self.x, rows, axis=0), keras.ops.take(self.y, rows, axis=0)
