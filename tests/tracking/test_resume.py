"""Launching the same command again: same dirs, same config identity, the same MLflow run."""

from mlflow import MlflowClient

from src.tracking import lifecycle, resume
from src.tracking.resume import JobDir


def test_config_hash_ignores_where_and_how_verbosely_a_config_runs(compose):
    base = resume.config_hash(compose())
    same = ("tracking.uri=http://elsewhere:5000", "trainer.verbose=0", "dataset.data_dir=/x",
            "tracking.experiment=other", "tracking.skip_finished=false")
    assert resume.config_hash(compose(*same)) == base
    for override in ("reg=dropout", "seed=1", "trainer.epochs=3", "dataset.train_limit=10"):
        assert resume.config_hash(compose(override)) != base, override


def test_config_hash_is_stable_across_releases(compose):
    """Runs in existing stores carry these tags; a new value would re-train their configs."""
    assert resume.config_hash(compose()) == "76d59d3b49d1"
    assert resume.config_hash(compose("experiment=fashion_lenet5", "reg=dropout")) == "d207ffa11108"


def test_output_dir_is_named_after_the_overrides_in_any_order(compose):
    one = compose("reg=dropout", "seed=1", hydra=True).hydra.run.dir
    assert compose("seed=1", "reg=dropout", hydra=True).hydra.run.dir == one
    assert compose("reg=dropout", hydra=True).hydra.run.dir != one
    assert one.startswith("outputs/")


def test_job_dir_resumes_only_the_config_it_recorded(tmp_path, sqlite_uri):
    experiment = lifecycle.experiment_id("relaunch")
    run_id = MlflowClient().create_run(experiment).info.run_id
    job = JobDir(tmp_path / "job")
    job.remember(run_id, "hash-a")
    job.backup.mkdir()
    assert job.interrupted_run("hash-a", experiment) == run_id
    assert job.interrupted_run("hash-b", experiment) is None  # another config's state...
    assert not job.backup.exists() and not job.record.exists()  # ...is dropped, not restored


def test_finished_run_is_found_by_config_hash_and_a_missing_store_is_not_created(tmp_path,
                                                                                  sqlite_uri):
    missing = f"sqlite:///{tmp_path / 'elsewhere' / 'mlflow.db'}"
    assert resume.finished_run(missing, "relaunch", "h") is None
    assert not (tmp_path / "elsewhere").exists()
    client = MlflowClient()
    experiment = lifecycle.experiment_id("relaunch")
    running = client.create_run(experiment, tags={"config_hash": "h"}).info.run_id
    assert resume.finished_run(sqlite_uri, "relaunch", "h") is None
    client.set_terminated(running)
    assert resume.finished_run(sqlite_uri, "relaunch", "h").info.run_id == running
    assert resume.finished_run(sqlite_uri, "relaunch", "other") is None


def test_a_sweep_dir_records_its_parent_run(tmp_path):
    assert resume.parent_run_id(tmp_path / "sweep") is None
    resume.record_parent_run(tmp_path / "sweep", "abc123")
    assert resume.parent_run_id(tmp_path / "sweep") == "abc123"
