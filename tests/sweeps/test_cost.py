"""What a job costs: its model's work per image (from the built model's layers), times its
images and epochs; and how the plan packs jobs of different costs."""

import pytest

from src.data import DatasetInfo
from src.models import flops
from src.sweeps import cost, plan
from tests.conftest import MNIST

CIFAR = DatasetInfo((32, 32, 3), tuple(str(d) for d in range(10)), 50_000, 10_000)


def per_image(compose, *overrides: str, info: DatasetInfo = MNIST) -> float:
    return cost.per_image(compose(*overrides), info)


def test_a_job_costs_its_images_and_epochs_a_validation_image_a_third(compose):
    cfg = compose("trainer.epochs=10")  # the notebook: 50,000 to train on, 10,000 to validate
    assert cost.job_cost(cfg, MNIST, 2.0) == 10 * (50_000 + 10_000 / 3) * 2.0
    shorter = compose("dataset.train_limit=1000", "trainer.epochs=2")
    assert cost.job_cost(shorter, MNIST, 1.0) == 2 * (1000 + 10_000 / 3)
    fraction = compose("dataset=fashion_mnist", "trainer.epochs=1")  # 20 %: 48,000 + 12,000
    assert cost.job_cost(fraction, MNIST, 1.0) == 48_000 + 12_000 / 3


def test_the_model_decides_what_an_image_costs(compose):
    cnn = per_image(compose, "model=cnn")
    assert per_image(compose, "model=mlp") < per_image(compose, "model=lenet5") < cnn
    # Batch normalization costs far more than its multiply-adds on a CPU: on the fused kernel (the
    # default) ~1.3x the CNN's step, on Keras' unfused layer ~1.7x (BENCHMARKS.md)
    fused = per_image(compose, "model=cnn", "reg=batchnorm")
    keras_layer = per_image(compose, "model=cnn", "reg=batchnorm", "trainer.fused_batchnorm=false")
    assert 1.2 * cnn < fused < 1.5 * cnn < keras_layer < 1.8 * cnn
    assert cnn < per_image(compose, "model=cnn", "reg=dropout") < 1.3 * cnn  # masks: a little
    assert per_image(compose, "model=cnn", info=CIFAR) > 1.2 * cnn  # larger colour images


def test_multiply_adds_are_counted_from_the_layers_shapes(built):
    # conv1 26*26*32*9 + conv2 11*11*64*9*32 + dense 1600*64 + 64*10 (the MNIST notebook's)
    assert flops.forward_macs(built("model=cnn")) == 194_688 + 2_230_272 + 102_400 + 640
    assert flops.forward_macs(built("model=mlp")) == 784 * 128 + 128 * 64 + 64 * 10


def test_a_sweep_mixing_a_cifar_resnet_with_mnist_cnns_runs_the_resnet_alone_first(compose):
    """The ResNet on 32x32x3 costs several notebook CNNs on MNIST: on two cores it runs on a
    core of its own from the start, while the three CNNs take turns on the other."""
    jobs = [(compose("model=resnet", "reg=batchnorm", "trainer.epochs=10"), CIFAR),
            *[(compose("model=cnn", f"seed={seed}"), MNIST) for seed in range(3)]]
    costs = [cost.job_cost(cfg, info, cost.per_image(cfg, info)) for cfg, info in jobs]
    resnet, cnns = costs[0], costs[1:]
    assert resnet > sum(cnns)
    chosen = plan.plan(costs, n_cores=2, n_gpus=0, free_gb=20.0)
    assert chosen.workers == 2
    assert plan.makespan(costs, 2, 2) == pytest.approx(resnet)  # the CNNs fit beside it
    assert sorted(range(4), key=lambda i: -costs[i])[0] == 0  # dispatched first
    # Costed like the notebook CNN, as the launcher did before, four equal jobs on two cores
    # would run as two waves of two, and the ResNet could start last.
    assert plan.plan([cnns[0]] * 4, n_cores=2, n_gpus=0, free_gb=20.0).workers == 2
    assert plan.makespan(costs, 4, 2) > plan.makespan(costs, 2, 2)


@pytest.mark.parametrize(("epochs", "workers"), [(10, 3), (2, 2)])
def test_the_notebooks_three_jobs_run_all_at_once_unless_the_sweep_is_short(compose, epochs,
                                                                            workers):
    """On the fused kernel the three jobs cost about the same: at 10 epochs they run all at
    once, none left alone on a core at the end; at 2, what a third worker's start-up costs
    (TensorFlow's import) outweighs that (BENCHMARKS.md, "What a job costs")."""
    overrides = [[f"reg={reg}", f"trainer.epochs={epochs}"]
                 for reg in ("none", "dropout", "batchnorm")]
    costs = cost.costs_of([compose(*job) for job in overrides])
    cost.remember(overrides, costs)  # as the preflight does: costed from their models
    chosen = plan.plan(costs, n_cores=2, n_gpus=0, free_gb=20.0,
                       start=cost.worker_start(overrides))
    assert chosen.workers == workers
    if epochs == 10:  # costed as Keras' unfused layer, the batchnorm job would run alone
        keras_layer = cost.costs_of([compose("reg=batchnorm", "trainer.fused_batchnorm=false")])
        assert plan.plan([*costs[:2], *keras_layer], n_cores=2, n_gpus=0, free_gb=20.0,
                         start=cost.WORKER_START).workers == 2


def test_jobs_counted_as_equal_pay_no_start_up_in_their_units(compose):
    """Too many to compose, a sweep's jobs cost 1.0 each: a start-up in multiply-adds would
    then dwarf them and plan a single worker."""
    many = [[f"seed={seed}"] for seed in range(cost.MAX_COSTED_JOBS + 1)]
    assert cost.job_costs(compose(hydra=True), many) == [1.0] * len(many)
    assert cost.worker_start(many) == 0.0
