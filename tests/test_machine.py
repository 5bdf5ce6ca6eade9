"""How many jobs a sweep runs side by side, from what the jobs cost and what the machine has."""

import os
from unittest import mock

import pytest

from src import machine
from src.config import Config, DatasetConfig, RegConfig, TrainerConfig

NOTEBOOK = [1.0, 1.0, 2.0]  # none, dropout and batchnorm (twice the cost) for the same epochs


@pytest.mark.parametrize(("costs", "cores", "gpus", "free_gb", "workers", "threads"), [
    (NOTEBOOK, 2, 0, 20.0, 2, 1),  # batchnorm on a core of its own, the other two in turn
    ([1.0] * 3, 2, 0, 20.0, 3, 1),  # three equal jobs: all at once, no lone tail job
    ([1.0] * 4, 2, 0, 20.0, 2, 1),  # two waves of two
    ([1.0] * 15, 2, 0, 20.0, 3, 1),  # five waves of three: as soon as three of five
    ([1.0], 2, 0, 20.0, 1, 2),  # a single job takes every core
    ([1.0] * 16, 16, 0, 64.0, 16, 1),
    ([1.0] * 6, 8, 0, 8.0, 3, 2),  # memory holds three jobs: each gets a third of the cores
    ([1.0] * 5, 4, 0, 1.0, 1, 4),  # too little memory for two: one job with every core
    ([1.0] * 10, 16, 2, 64.0, 1, 16),  # a GPU is never shared: one job at a time
])
def test_the_plan_finishes_soonest_within_memory_and_never_shares_a_gpu(costs, cores, gpus,
                                                                         free_gb, workers,
                                                                         threads):
    plan = machine.plan(costs, n_cores=cores, n_gpus=gpus, free_gb=free_gb)
    assert (plan.workers, plan.threads_per_job) == (workers, threads)
    assert plan.why


def test_makespan_runs_the_longest_first_each_job_at_most_one_core_fast():
    assert machine.makespan(NOTEBOOK, workers=2, n_cores=2) == pytest.approx(2.0)
    assert machine.makespan(NOTEBOOK, workers=3, n_cores=2) == pytest.approx(2.5)
    assert machine.makespan(NOTEBOOK, workers=1, n_cores=2) == pytest.approx(4.0)


def test_a_job_costs_its_images_and_twice_as_much_with_batchnorm():
    plain = Config(trainer=TrainerConfig(epochs=10))
    assert machine.job_cost(plain) == 10 * (50_000 + 10_000 / 3)
    shorter = Config(dataset=DatasetConfig(train_limit=1000), trainer=TrainerConfig(epochs=2))
    assert machine.job_cost(shorter) == 2 * (1000 + 10_000 / 3)
    batchnorm = Config(reg=RegConfig(name="batchnorm", batchnorm=True))
    assert machine.job_cost(batchnorm) == 2 * machine.job_cost(Config())


def test_this_machine_is_read_from_the_kernel():
    assert machine.cores() == len(os.sched_getaffinity(0)) >= 1
    assert machine.memory_gb() > 0


def test_cuda_visible_devices_decides_which_gpus_count():
    with mock.patch.dict(os.environ, {"CUDA_VISIBLE_DEVICES": "0,1"}):
        assert machine.gpus() == 2
    with mock.patch.dict(os.environ, {"CUDA_VISIBLE_DEVICES": ""}):
        assert machine.gpus() == 0
