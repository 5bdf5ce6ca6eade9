"""Sweeps as researchers run them: jobs side by side on the default SQLite store and against a
server, grouped under a parent run, re-launched, and through the SLURM launcher's local
executor. (Stopping a sweep with Ctrl-C or SIGTERM: test_faults.py.)"""

import importlib.util
import re
from contextlib import contextmanager

import pytest
from mlflow import MlflowClient

from src.sweeps import cost, plan
from tests import servers
from tests.conftest import run_cli

pytestmark = pytest.mark.slow
SMALL = ("trainer.epochs=1", "dataset.train_limit=1000", "dataset.val_size=1000")


@contextmanager
def shared_server(tmp_path):
    """A PostgreSQL-backed `mlflow server` (as in docker-compose.yml) where the machine has
    PostgreSQL, else a SQLite-backed one."""
    no_driver = importlib.util.find_spec("psycopg2") is None  # docker-compose.yml's driver
    if servers.postgres_unavailable() or no_driver:
        with servers.mlflow_sqlite_server(tmp_path) as uri:
            yield uri
        return
    with servers.postgres_cluster("mlflow", "mlflow-test", "mlflow") as pg_port:
        args = ["server", "--backend-store-uri",
                f"postgresql+psycopg2://mlflow:mlflow-test@127.0.0.1:{pg_port}/mlflow",
                "--serve-artifacts", "--artifacts-destination", str(tmp_path / "artifacts"),
                "--host", "127.0.0.1", "--port", str(servers.free_port()), "--workers", "2"]
        with servers.mlflow_process(args, log_path=tmp_path / "mlflow-server.log") as uri:
            yield uri


def sweep_runs(uri: str, experiment: str = "synthetic-cnn"):
    """(parent, children) of the one sweep logged to `experiment`."""
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1, [r.info.run_name for r in parents]
    return parents[0], [r for r in runs if r is not parents[0]]


@pytest.mark.server
def test_a_concurrent_sweep_logs_each_job_once_under_one_parent_on_a_server(tmp_path,
                                                                             synthetic):
    with shared_server(tmp_path) as uri:
        result = run_cli("src.train", "-m", "reg=none,dropout,batchnorm", *SMALL, *synthetic,
                         cwd=tmp_path, MLFLOW_TRACKING_URI=uri)
        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-3000:]
        assert "database is locked" not in output
        parent, children = sweep_runs(uri)
        regs = sorted(r.data.params["reg.name"] for r in children)
        assert regs == ["batchnorm", "dropout", "none"]
        assert {r.info.status for r in [parent, *children]} == {"FINISHED"}
        assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parent.info.run_id}
        assert parent.data.tags["hydra.overrides"].startswith("reg=none,dropout,batchnorm")
        assert parent.data.tags["hydra.sweep_dir"] == children[0].data.tags["hydra.sweep_dir"]
        client = MlflowClient(uri)
        assert client.search_runs([client.get_experiment_by_name("Default").experiment_id]) == []


EPOCH_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy", "epoch_seconds")


def test_six_jobs_side_by_side_on_the_default_sqlite_store_log_exactly(tmp_path, compose,
                                                                       synthetic):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    small = ("trainer.epochs=2", "dataset.train_limit=500", "dataset.val_size=500", *synthetic)
    result = run_cli("src.train", "-m", "reg=none,dropout,batchnorm", "seed=0,1", *small,
                     cwd=tmp_path, MLFLOW_TRACKING_URI=uri)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "database is locked" not in output and "Traceback" not in output
    parent, children = sweep_runs(uri)
    assert len(children) == 6
    assert {r.info.status for r in [parent, *children]} == {"FINISHED"}
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parent.info.run_id}
    client = MlflowClient(uri)
    for run in children:
        for key in EPOCH_KEYS:
            steps = [m.step for m in client.get_metric_history(run.info.run_id, key)]
            assert sorted(steps) == [1, 2], (run.info.run_name, key, steps)
        assert "test_accuracy" in run.data.metrics
        # each job's epochs are told on lines of their own, headed by the job's run name
        epochs = re.findall(rf"^{run.info.run_name} epoch (\d)/2: ", result.stdout, re.M)
        assert epochs == ["1", "2"], run.info.run_name
    jobs = [compose(f"reg={reg}", *small) for reg in ("none", "dropout", "batchnorm") for _ in "01"]
    chosen = plan.plan(cost.costs_of(jobs))
    assert parent.data.tags["sweep.workers"] == str(chosen.workers)
    assert parent.data.tags["sweep.plan"] == chosen.why
    done = re.findall(r"^sweep: (\d)/6 jobs done in ", result.stdout, re.M)
    assert done == ["1", "2", "3", "4", "5", "6"]


def test_relaunched_sweep_skips_finished_configs_and_the_force_knob_retrains(tmp_path, sqlite_uri,
                                                                             synthetic):
    uri = sqlite_uri
    sweep = ("src.train", "-m", "reg=none,dropout", *SMALL, *synthetic)
    first = run_cli(*sweep, cwd=tmp_path, MLFLOW_TRACKING_URI=uri, DATA_DIR="")
    assert first.returncode == 0, first.stderr[-3000:]
    parent, children = sweep_runs(uri)
    params = children[0].data.params  # the synthetic release, found with no DATA_DIR set
    assert (params["data.n_train"], params["data.n_val"], params["data.n_test"]) == (
        "1000", "1000", "500")
    assert params["data.source"].endswith("data/synthetic")

    again = run_cli(*sweep, cwd=tmp_path, MLFLOW_TRACKING_URI=uri)
    assert again.returncode == 0, again.stderr[-3000:]
    for run in children:
        assert f"already FINISHED as run {run.info.run_id}" in again.stdout
    assert " epoch 1/1: " not in again.stdout, "a finished config was trained again"
    parent_again, children_again = sweep_runs(uri)
    assert parent_again.info.run_id == parent.info.run_id  # the same sweep, the same group
    assert parent_again.info.status == "FINISHED" and len(children_again) == 2

    forced = run_cli("src.train", "reg=none", *SMALL, *synthetic, "tracking.skip_finished=false",
                     cwd=tmp_path, MLFLOW_TRACKING_URI=uri)
    assert forced.returncode == 0, forced.stderr[-3000:]
    client = MlflowClient(uri)
    none_runs = client.search_runs(
        [parent.info.experiment_id], "params.`reg.name` = 'none' and attributes.status = 'FINISHED'"
    )
    assert len(none_runs) == 2 and len({r.data.tags["config_hash"] for r in none_runs}) == 1


def test_slurm_launcher_runs_a_sweep_with_submitits_local_executor(tmp_path, sqlite_uri, synthetic):
    uri = sqlite_uri
    result = run_cli("src.train", "-m", "hydra/launcher=slurm_local", "reg=none,dropout", *SMALL,
                     *synthetic, cwd=tmp_path, MLFLOW_TRACKING_URI=uri)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    parent, children = sweep_runs(uri)
    assert {r.info.status for r in [parent, *children]} == {"FINISHED"} and len(children) == 2
    assert list(tmp_path.glob("multirun/*/.submitit/*")), "jobs did not go through submitit"
