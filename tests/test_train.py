"""The command a new user types: a sweep landing in MLflow, everything a run records.
(Bad input: tests/test_preflight.py; what a run prints: tests/test_console.py.)"""

from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.conftest import run_cli


@pytest.mark.slow
@pytest.mark.server
def test_smoke_sweep_logs_three_finished_runs_to_a_server(tmp_path, mlflow_server):
    result = run_cli(
        "src.train", "-m", "reg=none,dropout,batchnorm", "trainer.epochs=1",
        "dataset.train_limit=2000", "tracking.experiment=smoke-sweep", cwd=tmp_path,
        MLFLOW_TRACKING_URI=mlflow_server,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    client = MlflowClient(mlflow_server)
    experiment = client.get_experiment_by_name("smoke-sweep")
    runs = client.search_runs([experiment.experiment_id], "tags.`mlflow.parentRunId` LIKE '%'")
    assert sorted(r.info.run_name for r in runs) == [
        "mnist-cnn-batchnorm-s0", "mnist-cnn-dropout-s0", "mnist-cnn-none-s0"]
    for run in runs:
        assert run.info.status == "FINISHED"
        params, metrics = run.data.params, run.data.metrics
        assert params["reg.name"] in run.info.run_name
        assert params["dataset.train_limit"] == "2000" and params["trainer.epochs"] == "1"
        assert params["model.params"] in ("121930", "122570")
        kernel = "FusedBatchNormV3" if params["reg.name"] == "batchnorm" else "none"
        assert params["batchnorm.kernel"] == kernel and params["trainer.fused_batchnorm"] == "True"
        assert 0.1 <= metrics["test_accuracy"] <= 1.0
        assert run.data.tags["hydra.overrides"].startswith(f"reg={params['reg.name']}")
        for key in ("loss", "accuracy", "val_loss", "val_accuracy", "epoch_seconds"):
            history = client.get_metric_history(run.info.run_id, key)
            assert [m.step for m in history] == [1], key
        top = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"confusion_matrix.csv", "model_summary.txt", "plots", ".hydra",
                "predictions.npz"} <= top
        plots = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
        assert plots == {"plots/confusion_matrix.png", "plots/curves.png",
                         "plots/test_predictions.png", "plots/preview_train.png",
                         "plots/preview_test.png"}
        csv = client.download_artifacts(run.info.run_id, "confusion_matrix.csv", str(tmp_path))
        rows = Path(csv).read_text().splitlines()
        assert len(rows) == 11 and rows[0].startswith("true\\predicted,0,1")
        assert sum(int(v) for row in rows[1:] for v in row.split(",")[1:]) == 10000
