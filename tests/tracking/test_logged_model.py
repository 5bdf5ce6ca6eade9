"""What one real training run records with MLflow's own features: a Keras MLflow Model that
loads, reproduces the run's test accuracy and serves over HTTP; train/val/test as dataset
inputs; system metrics; an experiment of the model-training kind."""

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import keras
import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient

from src import data
from src.tracking import datasets
from tests import servers
from tests.conftest import ROOT, cli_env, copy_of, data_dir, run_cli

pytestmark = pytest.mark.slow
SMALL = ("trainer.epochs=1", "dataset.train_limit=1000", "dataset.val_size=1000")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, store_template):
    """One run of `python -m src.train` on the defaults, into a fresh SQLite store."""
    workdir = tmp_path_factory.mktemp("trained")
    uri = copy_of(store_template, workdir / "mlflow.db")
    # MLflow logs its first system sample one interval after the run starts: a run of a few
    # seconds needs a short one to hold any.
    result = run_cli("src.train", *SMALL, "tracking.system_metrics_interval=1", cwd=workdir,
                     MLFLOW_TRACKING_URI=uri)
    assert result.returncode == 0, result.stderr[-3000:]
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("mnist-cnn")
    [run] = client.search_runs([experiment.experiment_id])
    return client, experiment, run


@pytest.fixture(autouse=True)
def store(trained):
    """MLflow's fluent calls (pyfunc, models:/ URIs) read the trained run's store."""
    mlflow.set_tracking_uri(trained[0].tracking_uri)


@pytest.fixture(scope="module")
def test_set(compose):
    return data.load(compose(*SMALL, f"dataset.data_dir={data_dir()}").dataset)


def test_a_run_logs_its_model_as_a_keras_mlflow_model_with_signature_and_example(trained):
    client, _, run = trained
    [output] = run.outputs.model_outputs
    model = client.get_logged_model(output.model_id)
    assert model.source_run_id == run.info.run_id and model.name == "model"
    assert str(model.status) in ("READY", "LoggedModelStatus.READY")
    info = mlflow.models.get_model_info(f"models:/{model.model_id}")
    assert "keras" in info.flavors
    [spec] = info.signature.inputs.inputs
    assert spec.shape == (-1, 28, 28, 1) and str(spec.type) == "float32"
    assert info.signature.outputs.inputs[0].shape == (-1, 10)
    assert info.saved_input_example_info is not None
    # the run's params and its final-epoch and test metrics are linked to the model
    assert model.params["model.name"] == "cnn"
    linked = {m.key: m for m in model.metrics}
    assert linked["test_accuracy"].value == run.data.metrics["test_accuracy"]
    assert linked["test_accuracy"].dataset_name == "mnist-test"
    assert linked["val_accuracy"].value == run.data.metrics["val_accuracy"]
    # the raw model.keras artifact of earlier versions is gone
    assert "model.keras" not in {f.path for f in client.list_artifacts(run.info.run_id)}


def test_the_logged_model_reproduces_the_runs_test_accuracy_exactly(trained, test_set):
    _, _, run = trained
    model = mlflow.pyfunc.load_model(f"models:/{run.outputs.model_outputs[0].model_id}")
    predicted = np.asarray(model.predict(test_set.x_test)).argmax(axis=1)
    assert float(np.mean(predicted == test_set.y_test)) == run.data.metrics["test_accuracy"]


def test_the_logged_model_loads_with_keras_safe_mode_on(trained, tmp_path):
    _, _, run = trained
    local = mlflow.artifacts.download_artifacts(
        f"models:/{run.outputs.model_outputs[0].model_id}", dst_path=str(tmp_path))
    [path] = Path(local).rglob("*.keras")
    model = keras.saving.load_model(path, safe_mode=True)
    assert model.predict(np.zeros((3, 28, 28, 1), "float32"), verbose=0).shape == (3, 10)


def test_train_validation_and_test_are_the_runs_dataset_inputs(trained):
    _, _, run = trained
    logged = {tag.value: entry.dataset for entry in run.inputs.dataset_inputs
              for tag in entry.tags if tag.key == "mlflow.data.context"}
    assert sorted(logged) == ["test", "training", "validation"]
    assert {d.name for d in logged.values()} == {"mnist-train", "mnist-val", "mnist-test"}
    assert len({d.digest for d in logged.values()}) == 3
    assert all(d.source_type == "local" for d in logged.values())
    assert json.loads(logged["training"].source)["uri"].endswith("mnist")
    assert json.loads(logged["training"].profile)["features_shape"] == [1000, 28, 28, 1]


def test_system_metrics_are_logged_with_the_run(trained):
    client, _, run = trained
    for key in ("system/cpu_utilization_percentage", "system/system_memory_usage_megabytes"):
        assert client.get_metric_history(run.info.run_id, key), key


def test_the_experiment_opens_on_the_model_training_view(trained):
    _, experiment, _ = trained
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"


def test_a_split_digest_changes_with_the_split_and_only_with_it(compose, test_set):
    mnist = test_set.fingerprint  # the published SHA-256 of the files

    def digest(cfg, split: str, fingerprint=mnist) -> str:
        return datasets.split_digest(fingerprint, cfg, split)

    base = compose()
    digests = {split: digest(base.dataset, split) for split in datasets.CONTEXTS}
    assert digests == {split: digest(compose().dataset, split) for split in datasets.CONTEXTS}
    other_val = compose("dataset.val_size=5000").dataset
    assert digest(other_val, "train") != digests["train"]
    assert digest(other_val, "val") != digests["val"]
    assert digest(other_val, "test") == digests["test"]
    limited = compose("dataset.train_limit=1000").dataset
    assert digest(limited, "train") != digests["train"]
    assert digest(limited, "val") == digests["val"]
    fashion = compose("dataset=fashion_mnist", f"dataset.data_dir={data_dir()}").dataset
    fashion_files = data.loader(fashion).load().fingerprint
    assert digest(fashion, "test", fashion_files) != digests["test"]


@pytest.mark.server
def test_serving_the_runs_model_answers_a_post_with_predicted_classes(trained, test_set,
                                                                      tmp_path):
    client, _, run = trained
    port = servers.free_port()
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "src.registry", "--tracking-uri", client.tracking_uri,
             "serve", run.info.run_id, "--port", str(port)],
            cwd=ROOT, env=cli_env(), stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
    try:
        servers.wait_for_http(f"http://127.0.0.1:{port}/ping", proc=proc, log=log)
        images = test_set.x_test[:20]
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations", json.dumps({"inputs": images.tolist()})
            .encode(), headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            served = np.array(json.load(response)["predictions"]).argmax(axis=1)
    finally:
        servers.stop_process_group(proc)
    local = mlflow.pyfunc.load_model(f"models:/{run.outputs.model_outputs[0].model_id}")
    np.testing.assert_array_equal(served, np.asarray(local.predict(images)).argmax(axis=1))
    assert (served == test_set.y_test[:20]).mean() > 0.5  # a trained model, not noise
