"""docs/extending.md, done as it says: a model, a dataset and a regularizer from a package
outside the checkout, through a config dir of its own, with no file of the project touched."""

import re
import subprocess
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

from tests.conftest import ROOT, run_cli

pytestmark = pytest.mark.slow
PAGE = ROOT / "docs" / "extending.md"
COMMAND = ("PYTHONPATH=. python -m src.train --config-dir mylab/conf -m dataset=squares "
           "model=tiny reg=none,noise seed=0,1,2")


def user_files() -> dict[str, str]:
    """The page's code blocks that start with the path of the file they are."""
    blocks = re.findall(r"```(?:python|yaml)\n(.*?)```", PAGE.read_text(), re.S)
    files = {}
    for block in blocks:
        first = block.splitlines()[0]
        if first.startswith("# mylab/"):
            files[first.removeprefix("# ")] = block
    return files


def project_state() -> str:
    """Every file of the checkout, with its content's digest: what must not change."""
    listed = subprocess.run(["git", "ls-files", "-s", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout
    changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"],
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return listed + changed + subprocess.run(["git", "diff"], cwd=ROOT, capture_output=True,
                                             text=True, check=True).stdout


def test_the_page_counts_two_new_files_and_no_edit_for_each_kind():
    files = user_files()
    assert sorted(files) == ["mylab/__init__.py", "mylab/conf/dataset/squares.yaml",
                             "mylab/conf/model/tiny.yaml", "mylab/conf/reg/noise.yaml",
                             "mylab/data.py", "mylab/models.py", "mylab/regularizers.py"]
    assert COMMAND in PAGE.read_text()


def test_a_model_dataset_and_regularizer_of_your_own_train_without_touching_the_project(
        tmp_path, sqlite_uri):
    for path, content in user_files().items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(content)
    before = project_state()
    uri = sqlite_uri
    args = COMMAND.split(" -m src.train ")[1].replace("seed=0,1,2", "seed=0").split()
    result = run_cli("src.train", *args, "trainer.epochs=2", cwd=tmp_path,
                     PYTHONPATH=f"{ROOT}:{tmp_path}", MLFLOW_TRACKING_URI=uri)
    assert result.returncode == 0, result.stderr[-3000:]
    assert project_state() == before

    client = MlflowClient(uri)
    mlflow.set_tracking_uri(uri)  # models:/ URIs resolve in the fluent API's store
    experiment = client.get_experiment_by_name("squares-tiny")
    runs = client.search_runs([experiment.experiment_id], "tags.`mlflow.parentRunId` LIKE '%'")
    assert sorted(r.info.run_name for r in runs) == ["squares-tiny-noise-s0",
                                                     "squares-tiny-none-s0"]
    for run in runs:
        assert run.info.status == "FINISHED"
        params = run.data.params
        assert params["model.width"] == "16" and params["data.n_train"] == "480"
        assert params["reg.name"] in ("none", "noise")
        csv = client.download_artifacts(run.info.run_id, "confusion_matrix.csv", str(tmp_path))
        assert Path(csv).read_text().splitlines()[0] == "true\\predicted,red,green,blue"
        [output] = run.outputs.model_outputs
        info = mlflow.models.get_model_info(f"models:/{output.model_id}")
        assert info.signature.inputs.inputs[0].shape == (-1, 16, 16, 3)
    noise = next(r for r in runs if r.data.params["reg.name"] == "noise")
    assert noise.data.params["reg.noise.stddev"] == "0.1"
    summary = client.download_artifacts(noise.info.run_id, "model_summary.txt", str(tmp_path))
    assert "GaussianNoise" in Path(summary).read_text()


def test_a_misspelt_setting_of_your_own_builder_is_refused_naming_the_closest(tmp_path):
    for path, content in user_files().items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(content)
    result = run_cli("src.train", "--config-dir", "mylab/conf", "dataset=squares", "model=tiny",
                     "+model.widht=8", cwd=tmp_path, PYTHONPATH=f"{ROOT}:{tmp_path}",
                     MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "error: model.widht: mylab.models.tiny takes no argument 'widht' (did you mean width?); "
        "it takes: width")
    assert not (tmp_path / "mlflow.db").exists()

