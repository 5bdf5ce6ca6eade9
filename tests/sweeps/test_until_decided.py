"""Seeds until decided: the design of a sweep in rounds, and a two-round sweep run, killed in its
second round and relaunched, as real processes. (Its statistics: tests/compare/
test_sequential.py; its bad input: tests/test_preflight.py.)"""

import signal

import pytest
from mlflow import MlflowClient
from omegaconf import DictConfig

from src.compare.sequential import FUTILE, UNDECIDED, Decision
from src.sweeps import rounds
from src.tracking import resume
from tests.conftest import run_cli
from tests.processes import Gate, Training

SWEEPER = DictConfig({"seeds_per_round": 2, "alpha": 0.05, "baseline": None})


def test_a_round_runs_every_variants_next_seeds_and_skips_the_decided():
    plan = rounds.design(["reg=dropout,none", "seed=range(0,5)", "trainer.epochs=2"], SWEEPER)
    assert plan.variants == ["reg=none", "reg=dropout"]  # the baseline first
    assert plan.rounds == 3 and plan.fractions == (0.4, 0.8, 1.0)
    assert [plan.jobs[n][:2] for n in plan.round_jobs(1)] == [
        ("reg=none", "0"), ("reg=dropout", "0"), ("reg=none", "1"), ("reg=dropout", "1")]
    assert list(plan.round_jobs(3)) == [8, 9]  # the last round holds what is left: seed 4
    assert plan.jobs[9][2] == ["reg=dropout", "seed=4", "trainer.epochs=2"]  # in command order
    three = rounds.design(["reg=none,dropout,batchnorm", "seed=range(0,4)"], SWEEPER)
    decided = {"reg=dropout": Decision(UNDECIDED), "reg=batchnorm": Decision(FUTILE, 1)}
    assert [three.jobs[n][:2] for n in rounds.round_jobs(three, 2, decided)] == [
        ("reg=none", "2"), ("reg=dropout", "2"), ("reg=none", "3"), ("reg=dropout", "3")]


SWEEP = ("-m", "hydra/sweeper=until_decided", "dataset=digits", "model=mlp", "reg=none,l2",
         "seed=range(0,4)", "trainer.epochs=3", "tracking.log_model=false")


@pytest.mark.slow
@pytest.mark.faults
def test_a_two_round_sweep_killed_in_its_second_round_resumes_and_decides(tmp_path, sqlite_uri):
    uri = sqlite_uri
    gate = Gate(tmp_path, from_job=4)  # round 2 (jobs 4 to 7) holds after its first epoch
    first = Training(*SWEEP, cwd=tmp_path, MLFLOW_TRACKING_URI=uri, **gate.env)
    first.wait_until(lambda: "Round 1/2: reg=l2: " in first.output
                     and "-s2 epoch 1/3: " in first.output, "round 2 under way")
    first.kill(signal.SIGKILL)  # the launcher and its workers, as a lost node
    first.finish()

    again = run_cli("src.train", *SWEEP, cwd=tmp_path, MLFLOW_TRACKING_URI=uri)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Round 1/2: reg=l2: " in again.stderr + again.stdout
    assert "-s0 epoch" not in again.stdout, "round 1 was trained again"
    assert "Resuming MLflow run" in again.stdout  # round 2's interrupted jobs
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("digits-mlp").experiment_id
    jobs = client.search_runs([experiment], "tags.`mlflow.parentRunId` LIKE '%'")
    assert sorted((r.data.params["reg.name"], r.data.params["seed"]) for r in jobs) == sorted(
        (reg, str(seed)) for reg in ("none", "l2") for seed in range(4))  # each once
    assert {r.info.status for r in jobs} == {"FINISHED"}
    [sweep_dir] = (tmp_path / "multirun").iterdir()
    tags = client.get_run(resume.parent_run_id(sweep_dir)).data.tags
    assert tags["decided.rounds_run"] == "2 of 2" and tags["decided.baseline"] == "reg=none"
    assert tags["decided.reg/l2"].startswith(("different (round ", "futile (round 2",
                                                   "no difference shown (round 2"))
