"""The default sweep launcher (hydra_plugins/mnist_lab): its plan, and how a user sets it."""

import pytest

from hydra_plugins.mnist_lab.launcher import TARGET, plan_tags, sweep_plan
from src import machine
from src.config import ConfigError


def test_auto_follows_the_machine_plan():
    assert sweep_plan("auto", [1.0, 1.0, 2.0]) == machine.plan([1.0, 1.0, 2.0])


def test_a_given_count_is_kept_and_shares_the_cores():
    plan = sweep_plan(2, [1.0] * 10)
    assert plan.workers == 2 and plan.threads_per_job == max(1, machine.cores() // 2)
    assert plan.why == "hydra.launcher.workers=2"


@pytest.mark.parametrize("workers", [0, -1, "many", 1.5, True])
def test_a_bad_count_is_a_config_error_naming_the_key(workers):
    with pytest.raises(ConfigError, match=r"hydra\.launcher\.workers=.* is invalid"):
        sweep_plan(workers, [1.0] * 3)


def test_it_is_the_default_and_its_plan_is_told_as_parent_run_tags(compose):
    config = compose("reg=dropout", "hydra.launcher.workers=2", hydra=True)
    assert config.hydra.launcher._target_ == TARGET
    assert plan_tags(config) == {"sweep.launcher": "LocalLauncher", "sweep.workers": "2",
                                 "sweep.threads_per_job": str(max(1, machine.cores() // 2)),
                                 "sweep.plan": "hydra.launcher.workers=2"}
