"""The final fit: a recipe chosen on validation, trained once more on every training image,
validation included, with the test set still read once; recorded on the run, refused in a study."""

import mlflow
import pytest
from hydra import compose as hydra_compose
from hydra import initialize_config_dir

from src import data
from src.compare import cli
from src.config import CONF_DIR, register
from src.errors import ConfigError
from src.search import space as search_space
from src.tracking import identity
from src.train import train_config


def test_a_final_fit_trains_on_every_training_image_and_reads_no_validation_split(
        compose, synthetic, monkeypatch):
    held_out = data.load(compose(*synthetic).dataset)
    assert (len(held_out.y_train), len(held_out.y_val)) == (3500, 500)

    def no_split(*args, **kwargs):
        raise AssertionError("a final fit cut a validation split")

    monkeypatch.setattr(data, "validation_split", no_split)
    final = data.load(compose(*synthetic, "dataset.final_fit=true").dataset)
    assert (len(final.y_train), len(final.y_val)) == (4000, 0)
    assert final.x_val.shape == (0, 28, 28, 1) and len(final.y_test) == len(held_out.y_test)


def test_train_limit_counts_every_training_image_in_a_final_fit(compose, synthetic):
    assert len(data.load(compose(*synthetic, "dataset.final_fit=true",
                                 "dataset.train_limit=3800").dataset).y_train) == 3800
    with pytest.raises(ConfigError, match="below the 4000 training images, or null"):
        data.describe(compose(*synthetic, "dataset.final_fit=true",
                              "dataset.train_limit=4000").dataset)


def test_the_final_fit_is_a_config_of_its_own_and_leaves_every_other_hash_as_it_was(compose):
    assert identity.config_hash(compose()) == identity.config_hash(
        compose("dataset.final_fit=false"))
    assert identity.config_hash(compose("dataset.final_fit=true")) != identity.config_hash(
        compose())


def test_a_study_refuses_the_final_fit_whose_trials_it_could_not_score(tmp_path):
    register()
    with initialize_config_dir(CONF_DIR, version_base="1.3"):
        config = hydra_compose("config", ["hparams_search=mnist_cnn", "dataset.final_fit=true",
                                          f"hydra.sweep.dir={tmp_path}"],
                               return_hydra_config=True)
    with pytest.raises(ConfigError, match="search without it, then train the best config"):
        search_space.preflight(config)


@pytest.mark.slow
def test_a_final_fit_run_records_itself_and_compares_beside_a_validated_one(compose, synthetic,
                                                                            tmp_path, sqlite_uri):
    uri = sqlite_uri
    common = (*synthetic, "trainer.epochs=2", "dataset.train_limit=1000", f"tracking.uri={uri}",
              "tracking.system_metrics=false", "tracking.log_model=false")
    assert train_config(compose(*common, "dataset.final_fit=true"), tmp_path / "final") is None
    assert train_config(compose(*common), tmp_path / "validated") is not None
    client = mlflow.MlflowClient(uri)
    experiment = client.get_experiment_by_name("synthetic-cnn").experiment_id
    [final] = client.search_runs([experiment], "params.`dataset.final_fit` = 'True'")
    assert (final.data.params["data.n_train"], final.data.params["data.n_val"]) == ("1000", "0")
    assert "test_accuracy" in final.data.metrics and "accuracy" in final.data.metrics
    assert not {"val_accuracy", "val_loss"} & set(final.data.metrics)
    contexts = {tag.value for inp in final.inputs.dataset_inputs for tag in inp.tags
                if tag.key == "mlflow.data.context"}
    assert contexts == {"training", "test"}
    assert cli.main(["--tracking-uri", uri, "--by", "dataset.final_fit", "--no-log",
                     "--out", str(tmp_path / "report")]) == 0
    md = (tmp_path / "report" / "report.md").read_text()
    groups = md.split("\n\n| group | n | test acc.")[1].split("\n\n")[0].splitlines()
    [final_row] = [line for line in groups if line.startswith("| **True** |")]
    [validated_row] = [line for line in groups if line.startswith("| **False** |")]
    assert "— (final fit)" in final_row and "— (final fit)" not in validated_row
