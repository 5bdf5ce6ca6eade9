"""Faults a long sweep meets, with real processes: a dead or restarted server, kill -9, SIGTERM,
a job that raises. Nothing may be lost or left RUNNING."""

import os
import signal

import pytest
from mlflow import MlflowClient

from tests import servers
from tests.conftest import ROOT, copy_of, run_cli
from tests.processes import Gate, Training

pytestmark = pytest.mark.faults
EPOCH_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy", "epoch_seconds")
SMALL = ("dataset.train_limit=1000", "dataset.val_size=1000")


def only_run(uri: str, experiment: str = "synthetic-cnn"):
    client = MlflowClient(uri)
    found = client.get_experiment_by_name(experiment)
    runs = client.search_runs([found.experiment_id]) if found else []
    assert len(runs) <= 1, [r.info.run_name for r in runs]
    return runs[0] if runs else None


def logged_epochs(uri: str) -> int:
    """Epochs the training's run has logged so far (0 before the run exists)."""
    run = only_run(uri)
    history = MlflowClient(uri).get_metric_history(run.info.run_id, "loss") if run else []
    return max((m.step for m in history), default=0)


def assert_every_epoch_once(uri: str, run_id: str, epochs: int) -> None:
    client = MlflowClient(uri)
    for key in EPOCH_KEYS:
        steps = sorted(m.step for m in client.get_metric_history(run_id, key))
        assert steps == list(range(1, epochs + 1)), (key, steps)


@pytest.mark.slow
@pytest.mark.server
def test_server_restart_mid_training_loses_and_duplicates_no_epoch(tmp_path, store_template,
                                                                    synthetic):
    store = tmp_path / "server"
    copy_of(store_template, store / "mlflow.db")
    port = servers.free_port()
    args = ["server", "--backend-store-uri", f"sqlite:///{store / 'mlflow.db'}",
            "--serve-artifacts", "--artifacts-destination", str(store / "artifacts"),
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    uri = f"http://127.0.0.1:{port}"
    with servers.mlflow_process(args, log_path=store / "first.log"):
        training = Training("trainer.epochs=5", *SMALL, *synthetic, cwd=tmp_path,
                            MLFLOW_TRACKING_URI=uri)
        training.wait_until(lambda: logged_epochs(uri) >= 1, "first epoch logged")
    training.wait_until(lambda: "buffered" in training.output, "epoch buffered while down")
    with servers.mlflow_process(args, log_path=store / "second.log"):  # same port, same store
        assert training.finish() == 0, training.output[-3000:]
        run = only_run(uri)
        assert run.info.status == "FINISHED"
        assert_every_epoch_once(uri, run.info.run_id, epochs=5)
        assert len(MlflowClient(uri).get_metric_history(run.info.run_id, "test_accuracy")) == 1
        artifacts = {a.path for a in MlflowClient(uri).list_artifacts(run.info.run_id)}
        assert {"plots", "confusion_matrix.csv", "model_summary.txt", ".hydra"} <= artifacts


@pytest.mark.slow
@pytest.mark.server
def test_kill_9_mid_epoch_then_the_same_command_resumes_the_same_run(tmp_path, mlflow_server,
                                                                    synthetic):
    command = (*synthetic, "trainer.epochs=6", "dataset.train_limit=2000",
               "dataset.val_size=1000")
    training = Training(*command, cwd=tmp_path, MLFLOW_TRACKING_URI=mlflow_server)
    training.wait_until(lambda: logged_epochs(mlflow_server) >= 2, "second epoch logged")
    training.kill(signal.SIGKILL)
    training.finish()
    killed = only_run(mlflow_server)
    assert killed.info.status == "RUNNING"  # nobody could end it
    assert list(tmp_path.glob("outputs/*/backup")), "no Keras backup in the job's output dir"

    again = run_cli("src.train", *command, cwd=tmp_path, MLFLOW_TRACKING_URI=mlflow_server)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"Resuming MLflow run {killed.info.run_id}" in again.stdout
    assert "synthetic-cnn-none-s0 epoch 1/6: " not in again.stdout, "training began anew"
    assert "synthetic-cnn-none-s0 epoch 6/6: " in again.stdout
    run = only_run(mlflow_server)
    assert run.info.run_id == killed.info.run_id and run.info.status == "FINISHED"
    assert_every_epoch_once(mlflow_server, run.info.run_id, epochs=6)
    assert not list(tmp_path.glob("outputs/*/backup")), "backup left behind after FINISHED"


@pytest.mark.slow
def test_sigterm_ends_the_run_killed(tmp_path, sqlite_uri, synthetic):
    uri = sqlite_uri
    training = Training("trainer.epochs=20", *SMALL, *synthetic, cwd=tmp_path,
                        MLFLOW_TRACKING_URI=uri)
    training.wait_until(lambda: training.run_started and logged_epochs(uri) >= 1,
                        "first epoch logged")
    training.kill(signal.SIGTERM)
    assert training.finish() == 128 + signal.SIGTERM
    assert only_run(uri).info.status == "KILLED"


def sweep_runs(uri: str) -> tuple:
    """(parent, children by run name) of the one sweep in synthetic-cnn, if it exists."""
    client = MlflowClient(uri)
    found = client.get_experiment_by_name("synthetic-cnn")
    runs = client.search_runs([found.experiment_id]) if found else []
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = {r.info.run_name: r for r in runs if "mlflow.parentRunId" in r.data.tags}
    return (parents[0] if parents else None), children


def each_logged_an_epoch(uri: str, jobs: int) -> bool:
    client = MlflowClient(uri)
    _, children = sweep_runs(uri)
    return len(children) == jobs and all(
        client.get_metric_history(r.info.run_id, "loss") for r in children.values())


@pytest.mark.slow
@pytest.mark.parametrize("stop", ["ctrl-c", "sigterm"])
def test_a_stopped_concurrent_sweep_ends_every_run_and_the_same_command_resumes_it(
        tmp_path, sqlite_uri, synthetic, stop):
    uri, gate = sqlite_uri, Gate(tmp_path)
    command = ("-m", "seed=0,1", "hydra.launcher.workers=2", "trainer.epochs=3",
               "dataset.train_limit=1000", "dataset.val_size=500", *synthetic)
    # Every job holds after its first epoch until the gate opens (it never does): stopped
    # mid-way however busy the machine. The relaunch runs ungated.
    sweep = Training(*command, cwd=tmp_path, MLFLOW_TRACKING_URI=uri, **gate.env)
    # Read the store only once the sweep has created it: two processes creating one SQLite
    # store at once race in MLflow's schema migrations.
    sweep.wait_until(lambda: "Sweep parent run" in sweep.output
                     and each_logged_an_epoch(uri, 2), "an epoch logged by every job")
    assert {r.info.status for r in sweep_runs(uri)[1].values()} == {"RUNNING"}, sweep.output
    if stop == "ctrl-c":
        sweep.kill(signal.SIGINT)  # a terminal's Ctrl-C reaches the whole foreground group
    else:
        os.kill(sweep.proc.pid, signal.SIGTERM)  # `kill <pid>`: the launching process only
    assert sweep.finish() != 0, sweep.output[-3000:]
    parent, children = sweep_runs(uri)
    assert parent.info.status == "FAILED"
    assert {name: r.info.status for name, r in children.items()} == {
        f"synthetic-cnn-none-s{seed}": "KILLED" for seed in range(2)}, sweep.output[-3000:]

    again = run_cli("src.train", *command, cwd=tmp_path, MLFLOW_TRACKING_URI=uri)
    assert again.returncode == 0, again.stderr[-3000:]
    resumed_parent, resumed = sweep_runs(uri)
    assert resumed_parent.info.run_id == parent.info.run_id
    assert resumed_parent.info.status == "FINISHED"
    for name, run in children.items():
        assert resumed[name].info.run_id == run.info.run_id  # the same run, resumed
        assert resumed[name].info.status == "FINISHED"
        assert f"Resuming MLflow run {run.info.run_id}" in again.stdout
        assert_every_epoch_once(uri, run.info.run_id, epochs=3)


# Training made to raise in the sweep's job #0. Installed as `sitecustomize`, which Python
# imports at start-up in every process, the sweep's worker processes included, so job #0's fit
# raises wherever the job runs.
FAILING_JOB = """
import keras
from hydra.core.hydra_config import HydraConfig

fit = keras.Model.fit


def fit_failing_in_job_0(self, *args, **kwargs):
    if HydraConfig.get().job.num == 0:
        raise RuntimeError("injected failure in job #0")
    return fit(self, *args, **kwargs)


keras.Model.fit = fit_failing_in_job_0
"""


@pytest.mark.slow
def test_a_job_that_raises_fails_its_run_and_the_sweep_names_it(tmp_path, sqlite_uri, synthetic):
    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(FAILING_JOB)
    uri = sqlite_uri
    result = run_cli("src.train", "-m", "seed=0,1", "trainer.epochs=1", *SMALL, *synthetic,
                     "hydra.launcher.workers=2", cwd=tmp_path, MLFLOW_TRACKING_URI=uri,
                     PYTHONPATH=f"{inject}{os.pathsep}{ROOT}")
    assert result.returncode != 0
    assert "#0 (seed=0 trainer.epochs=1" in result.stderr  # the failed job, by name
    assert "injected failure in job #0" in result.stderr
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("synthetic-cnn").experiment_id])
    by_seed = {r.data.params.get("seed"): r for r in runs}
    assert by_seed["0"].info.status == "FAILED"
    assert by_seed["1"].info.status == "FINISHED"  # the other job still ran
    assert by_seed[None].info.status == "FAILED"  # the sweep's parent run
    assert "RUNNING" not in {r.info.status for r in runs}


def test_nothing_in_the_project_turns_keras_safe_mode_off():
    unsafe = ("safe_mode=False", "safe_mode: false", "enable_unsafe_deserialization")
    files = [p for d in ("src", "conf", "scripts") for p in (ROOT / d).rglob("*") if p.is_file()]
    hits = [f"{p}: {u}" for p in files for u in unsafe if u in p.read_text(errors="ignore")]
    assert not hits
