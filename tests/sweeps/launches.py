"""A two-job sweep on the synthetic dataset (the `synthetic` fixture's overrides go after it)
that holds after its first epoch (tests/processes.py's Gate), and what its runs logged: shared
by the launch-safety tests, which run as separate files so that test workers can share them."""

from mlflow import MlflowClient

EPOCH_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy", "epoch_seconds")
# Two jobs, held after their first epoch (tests/processes.py's Gate) while the test launches.
SWEEP = ("-m", "reg=none,dropout", "trainer.epochs=3", "dataset.train_limit=1000",
         "dataset.val_size=500", "tracking.log_model=false")


def job_runs(uri: str) -> dict:
    client = MlflowClient(uri)
    found = client.get_experiment_by_name("synthetic-cnn")
    runs = client.search_runs([found.experiment_id], "tags.`mlflow.parentRunId` LIKE '%'")
    return {run.info.run_name: run for run in runs}


def every_job_logged_an_epoch(uri: str) -> bool:
    runs = job_runs(uri)
    client = MlflowClient(uri)
    return len(runs) == 2 and all(client.get_metric_history(r.info.run_id, "loss")
                                  for r in runs.values())


def assert_every_point_once(uri: str, epochs: int) -> None:
    client = MlflowClient(uri)
    runs = job_runs(uri)
    assert sorted(runs) == ["synthetic-cnn-dropout-s0", "synthetic-cnn-none-s0"]
    for run in runs.values():
        assert run.info.status == "FINISHED"
        for key in EPOCH_KEYS:
            steps = sorted(m.step for m in client.get_metric_history(run.info.run_id, key))
            assert steps == list(range(1, epochs + 1)), (run.info.run_name, key, steps)
