"""What fit minimises: each optimizer choice, the learning-rate schedules step by step, decay
on kernels only, and label smoothing - with the defaults exactly the notebooks' Adam."""

import keras
import numpy as np
import pytest

from src import optim
from src.choices import OptimizerName
from src.config import OptimizerConfig, ScheduleConfig

STEPS = 1000


@pytest.mark.parametrize("name", list(OptimizerName))
def test_every_optimizer_choice_builds_with_its_learning_rate(name):
    momentum = 0.9 if name == OptimizerName.sgd else 0.0  # only SGD has one
    made = optim.optimizer(OptimizerConfig(name=name, lr=0.05, momentum=momentum),
                           ScheduleConfig(), STEPS)
    assert type(made).__name__.lower() == name.value
    assert float(made.learning_rate) == pytest.approx(0.05)
    if name == OptimizerName.sgd:
        assert made.momentum == pytest.approx(0.9)


def test_default_adam_has_no_weight_decay_step_and_adamw_decays_what_it_is_told():
    assert optim.optimizer(OptimizerConfig(), ScheduleConfig(), STEPS).weight_decay is None
    adamw = optim.optimizer(OptimizerConfig(name="adamw", weight_decay=0.0), ScheduleConfig(),
                            STEPS)
    assert adamw.weight_decay == 0.0  # not Keras' default of 0.004


def lr_at(schedule: ScheduleConfig, step: int, peak: float = 0.01) -> float:
    return float(optim.learning_rate(peak, schedule, STEPS)(step))


@pytest.mark.parametrize(("preset", "first", "top", "last"), [
    ("cosine", 0.0, 50, 0.0),
    ("onecycle", 0.01 * 0.04, 250, 0.01 * 4e-6),
])
def test_schedule_presets_warm_up_to_the_peak_then_decay(compose, preset, first, top, last):
    schedule = compose(f"schedule={preset}").schedule
    assert lr_at(schedule, 0) == pytest.approx(first, abs=1e-9)
    assert lr_at(schedule, top // 2) == pytest.approx((first + 0.01) / 2, rel=1e-3)  # linear
    assert lr_at(schedule, top) == pytest.approx(0.01)
    middle = top + (STEPS - top) // 2
    assert lr_at(schedule, middle) == pytest.approx((0.01 + last) / 2, rel=1e-2)  # cosine
    assert lr_at(schedule, STEPS) == pytest.approx(last, abs=1e-9)


def test_constant_schedule_is_the_plain_learning_rate(compose):
    assert optim.learning_rate(0.01, compose().schedule, STEPS) == 0.01


def test_weight_decay_shrinks_kernels_and_leaves_biases_and_batchnorm_alone(built):
    keras.utils.set_random_seed(0)
    model = built("model=vgg", "reg=batchnorm")
    adamw = optim.optimizer(OptimizerConfig(name="adamw", lr=0.1, weight_decay=0.5),
                            ScheduleConfig(), STEPS)
    before = {v.path: keras.ops.convert_to_numpy(v) for v in model.trainable_variables}
    zero = [keras.ops.zeros_like(v) for v in model.trainable_variables]  # Adam's step is 0
    adamw.apply_gradients(zip(zero, model.trainable_variables, strict=True))
    for variable in model.trainable_variables:
        old, new = before[variable.path], keras.ops.convert_to_numpy(variable)
        expected = 1 - 0.1 * 0.5 if variable.path.endswith("kernel") else 1.0
        assert np.allclose(new, old * expected), variable.path


def test_label_smoothing_uses_one_hot_targets_and_no_smoothing_keeps_sparse_labels():
    assert isinstance(optim.loss(0.0), keras.losses.SparseCategoricalCrossentropy)
    smoothed = optim.loss(0.1)
    confident = np.eye(10, dtype="float32")[[3]] * 0.999 + 0.0001
    # A confident right answer costs more than it would unsmoothed: smoothing asks for 0.91.
    plain = float(optim.loss(0.0)(np.array([3]), confident))
    assert float(smoothed(np.eye(10, dtype="float32")[[3]], confident)) > plain
