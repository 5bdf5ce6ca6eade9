"""How many jobs a sweep runs side by side, from what the jobs cost and what the machine has,
and how a user sets it (`hydra.launcher.workers`)."""

import os
from unittest import mock

import pytest
from omegaconf import open_dict

from src.config import ConfigError
from src.sweeps import gpus as gpus_module
from src.sweeps import plan
from src.sweeps.plan import LOCAL_LAUNCHER, plan_tags, sweep_plan

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
    ([1.0] * 10, 16, 2, 64.0, 2, 8),  # a job per GPU, each with its share of the cores
])
def test_the_plan_finishes_soonest_within_memory_and_gives_each_gpu_a_job(costs, cores, gpus,
                                                                          free_gb, workers,
                                                                          threads):
    chosen = plan.plan(costs, n_cores=cores, n_gpus=gpus, free_gb=free_gb)
    assert (chosen.workers, chosen.threads_per_job) == (workers, threads)
    assert chosen.why


def test_makespan_runs_the_longest_first_each_job_at_most_one_core_fast():
    assert plan.makespan(NOTEBOOK, workers=2, n_cores=2) == pytest.approx(2.0)
    assert plan.makespan(NOTEBOOK, workers=3, n_cores=2) == pytest.approx(2.5)
    assert plan.makespan(NOTEBOOK, workers=1, n_cores=2) == pytest.approx(4.0)


def test_this_machine_is_read_from_the_kernel():
    assert plan.cores() == len(os.sched_getaffinity(0)) >= 1
    assert plan.memory_gb() > 0


def test_cuda_visible_devices_decides_which_gpus_count():
    with mock.patch.dict(os.environ, {"CUDA_VISIBLE_DEVICES": "2,3"}):
        assert plan.gpu_ids() == ["2", "3"]
    with mock.patch.dict(os.environ, {"CUDA_VISIBLE_DEVICES": ""}):
        assert plan.gpu_ids() == []


@pytest.mark.parametrize(("gpus", "per_gpu", "jobs", "slots"), [
    (1, 1, 10, "0"),
    (1, 4, 10, "0000"),
    (2, 1, 10, "01"),
    (2, 4, 10, "01010101"),
    (8, 1, 10, "01234567"),
    (8, 4, 10, "0123456701"),  # capped at the jobs, every GPU busy before any gets a second
    (8, 4, 3, "012"),
])
def test_every_gpu_gets_a_job_before_any_gets_a_second(gpus, per_gpu, jobs, slots):
    chosen = plan.plan([1.0] * jobs, n_cores=16, n_gpus=gpus, free_gb=512.0,
                       jobs_per_gpu=per_gpu)
    assert chosen.gpus == tuple(slots) and chosen.workers == len(slots)
    assert chosen.threads_per_job == 16 // len(slots)
    shared = max(slots.count(gpu) for gpu in slots)
    env = plan.thread_env(chosen)  # what every worker process inherits
    assert env[gpus_module.SHARED] == str(shared)
    assert ("XLA_PYTHON_CLIENT_PREALLOCATE" in env) == (shared > 1)


def test_data_parallel_jobs_take_every_gpu_one_at_a_time():
    chosen = plan.plan([1.0] * 4, n_cores=16, n_gpus=8, free_gb=512.0, jobs_per_gpu=4,
                       data_parallel=True)
    assert (chosen.workers, chosen.gpus) == (1, ())
    assert gpus_module.SHARED not in plan.thread_env(chosen)


def test_gpu_slots_are_capped_by_memory_too():
    chosen = plan.plan([1.0] * 10, n_cores=16, n_gpus=2, free_gb=10.0, jobs_per_gpu=4)
    assert chosen.gpus == tuple("0101") and "room for 4 jobs" in chosen.why


def test_jobs_per_gpu_below_one_is_refused_and_without_a_gpu_ignored_with_a_warning():
    with pytest.raises(ConfigError, match=r"hydra\.launcher\.jobs_per_gpu=0 is invalid"):
        sweep_plan("auto", [1.0], jobs_per_gpu=0)
    chosen = plan.plan([1.0] * 3, n_cores=2, n_gpus=0, free_gb=20.0, jobs_per_gpu=4)
    assert chosen.warning == "hydra.launcher.jobs_per_gpu=4 is ignored: no GPU is visible"
    assert chosen.gpus == () and plan.plan([1.0], n_cores=2, n_gpus=0, free_gb=20.0).warning == ""


def test_auto_follows_the_machine_plan():
    assert sweep_plan("auto", [1.0, 1.0, 2.0]) == plan.plan([1.0, 1.0, 2.0])


def test_a_given_count_is_kept_and_shares_the_cores():
    chosen = sweep_plan(2, [1.0] * 10)
    assert chosen.workers == 2 and chosen.threads_per_job == max(1, plan.cores() // 2)
    assert chosen.why == "hydra.launcher.workers=2"


@pytest.mark.parametrize("workers", [0, -1, "many", 1.5, True])
def test_a_bad_count_is_a_config_error_naming_the_key(workers):
    with pytest.raises(ConfigError, match=r"hydra\.launcher\.workers=.* is invalid"):
        sweep_plan(workers, [1.0] * 3)


def test_it_is_the_default_and_its_plan_is_told_as_parent_run_tags(compose):
    config = compose("reg=dropout", "hydra.launcher.workers=2", hydra=True)  # a single job
    assert config.hydra.launcher._target_ == LOCAL_LAUNCHER
    assert plan_tags(config) == {"sweep.launcher": "LocalLauncher", "sweep.workers": "1",
                                 "sweep.threads_per_job": str(plan.cores()),
                                 "sweep.plan": "hydra.launcher.workers=2, capped at the 1 job(s)"}


def test_seeds_until_decided_is_planned_and_tagged_a_round_at_a_time(compose):
    """Each round is a launch: 2 variants x 2 seeds, not the 20 jobs of the seed axis."""
    config = compose("hydra/sweeper=until_decided", "hydra.launcher.workers=8", hydra=True)
    with open_dict(config):
        config.hydra.overrides.task = ["reg=none,dropout", "seed=range(0,10)"]
    tags = plan_tags(config)
    assert tags["sweep.workers"] == "4"
    assert tags["sweep.plan"] == "hydra.launcher.workers=8, capped at the 4 job(s)"


def test_a_count_above_the_jobs_is_capped_at_the_jobs():
    assert sweep_plan(1000, [1.0]).workers == 1
    assert sweep_plan(1000, [1.0] * 3).workers == 3
    assert sweep_plan(1000, [1.0] * 3).warning == ""  # nothing was asked that could run


def test_a_count_above_what_memory_holds_is_capped_with_a_warning_saying_why(monkeypatch):
    monkeypatch.setattr(plan, "memory_gb", lambda: 5.2)
    plan._given_plan.cache_clear()
    chosen = sweep_plan(8, [1.0] * 8)
    assert chosen.workers == 2
    assert chosen.warning == ("hydra.launcher.workers=8: running 2 side by side, as many jobs of "
                              "~2.5 GB as the 5 GB free memory holds")
    assert "\n" not in chosen.warning
    plan._given_plan.cache_clear()


def test_a_sqlite_store_caps_the_jobs_side_by_side_at_what_it_was_measured_to_hold(
        monkeypatch):
    monkeypatch.setattr(plan, "memory_gb", lambda: 1000.0)
    plan._given_plan.cache_clear()
    cap = plan.store_cap("sqlite:///mlflow.db")
    assert cap == plan.SQLITE_MAX_WORKERS and plan.store_cap("http://127.0.0.1:5000") is None
    capped = sweep_plan(cap + 8, [1.0] * (cap + 100), max_workers=cap)
    assert capped.workers == cap and capped.why.endswith(f"capped at {cap} for a SQLite store")
    assert sweep_plan(cap + 8, [1.0] * (cap + 100)).workers == cap + 8  # a server: no cap
    plan._given_plan.cache_clear()


def test_more_workers_than_a_sqlite_store_holds_is_refused_saying_what_to_do():
    cap = plan.SQLITE_MAX_WORKERS
    with pytest.raises(ConfigError, match=f"holds {cap} jobs side by side .* use hydra.launcher"
                                          f".workers<={cap}, or log to a tracking server"):
        plan.check_store(cap + 1, "sqlite:///mlflow.db")
    plan.check_store(cap, "sqlite:///mlflow.db")
    plan.check_store("auto", "sqlite:///mlflow.db")
    plan.check_store(cap + 1, "http://127.0.0.1:5000")
