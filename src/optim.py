"""What `fit` minimises and how: the optimizer, its learning-rate schedule and the loss.

All three are Keras' own objects, so the MLflow Model's saved compile config loads anywhere
without this package.
"""

from typing import Optional

import keras

from src.choices import OptimizerName, ScheduleName
from src.config import OptimizerConfig, ScheduleConfig

OPTIMIZERS = {
    OptimizerName.adam: keras.optimizers.Adam,
    OptimizerName.adamw: keras.optimizers.AdamW,
    OptimizerName.sgd: keras.optimizers.SGD,
}

# Weight decay shrinks kernels only: decaying biases and batchnorm's scale and offset only
# fights the normalization (matched against each variable's path, e.g. `conv2d/bias`).
NOT_DECAYED = ["bias", "gamma", "beta"]


def learning_rate(peak: float, schedule: ScheduleConfig, total_steps: int):
    """A float for a constant rate, else Keras' CosineDecay with its linear warm-up: from
    `peak * start_factor` to `peak` over `warmup` of the steps, then down to
    `peak * final_factor` at the last one. `total_steps` counts every epoch's batches."""
    if schedule.name == ScheduleName.constant:
        return peak
    warmup_steps = int(schedule.warmup * total_steps)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=peak * schedule.start_factor if warmup_steps else peak,
        decay_steps=total_steps - warmup_steps,
        alpha=schedule.final_factor,
        warmup_target=peak if warmup_steps else None,
        warmup_steps=warmup_steps,
    )


def optimizer(cfg: OptimizerConfig, schedule: ScheduleConfig, total_steps: int,
              ema_momentum: Optional[float] = None) -> keras.optimizers.Optimizer:
    """`ema_momentum`: keep a moving average of the weights, which `fit` leaves in the model."""
    rate = learning_rate(cfg.lr, schedule, total_steps)
    kwargs = {"momentum": cfg.momentum} if cfg.name == OptimizerName.sgd else {}
    # None: Adam and SGD take no decay step at all unless asked; AdamW gets its value even at
    # 0.0, or Keras would apply its own default of 0.004.
    adamw = cfg.name == OptimizerName.adamw
    decay = cfg.weight_decay if cfg.weight_decay or adamw else None
    if ema_momentum is not None:
        kwargs.update(use_ema=True, ema_momentum=ema_momentum)
    built = OPTIMIZERS[cfg.name](learning_rate=rate, weight_decay=decay, **kwargs)
    if decay:
        built.exclude_from_weight_decay(var_names=NOT_DECAYED)
    return built


def loss(label_smoothing: float) -> keras.losses.Loss:
    """Cross-entropy on integer labels. Keras smooths only one-hot targets, so with smoothing
    the labels are fed one-hot (`trainer.targets`) and the loss is the categorical one."""
    if label_smoothing:
        return keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing)
    return keras.losses.SparseCategoricalCrossentropy()
