"""What every run says about itself: its name, its config as params, its provenance."""

import sys

from src.tracking import provenance


def test_run_name_reads_as_dataset_model_what_regularized_it_and_seed(compose):
    assert provenance.run_name(compose("reg=dropout", "seed=3")) == "mnist-cnn-dropout-s3"
    both = compose("dataset=digits", "model=resnet", "reg=[dropout,batchnorm]")
    assert provenance.run_name(both) == "digits-resnet-batchnorm+dropout-s0"


def test_params_are_the_flattened_config_without_tracking(compose):
    params = provenance.flat_params(compose("reg=dropout"))
    assert params["reg.dropout.conv"] == 0.25 and params["optimizer.lr"] == 1e-3
    assert params["reg.name"] == "dropout"  # what src.compare groups by: what ran
    assert params["trainer.epochs"] == 10 and params["seed"] == 0
    assert params["dataset.split"] == "last" and params["model.name"] == "cnn"
    assert params["model.filters"] == [32, 64]
    assert params["model._target_"] == "src.models.convnets.cnn"
    assert not any(key.startswith("tracking.") for key in params)


def test_versions_are_those_of_the_libraries_the_process_loaded():
    versions = provenance.library_versions()
    assert versions["version.mlflow"] and versions["version.numpy"]
    for name, module in provenance.LIBRARIES.items():
        assert (f"version.{name}" in versions) == (module in sys.modules), name


def test_git_tags_name_the_commit_and_whether_it_was_dirty():
    tags = provenance.git_tags()
    assert len(tags["git.commit"]) == 40 and tags["mlflow.source.git.commit"] == tags["git.commit"]
    assert tags["git.dirty"] in ("true", "false")


def test_thread_tags_record_the_tensorflow_pools_the_launcher_set(monkeypatch):
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "1")
    monkeypatch.delenv("TF_NUM_INTEROP_THREADS", raising=False)
    assert provenance.thread_tags() == {"threads.intra_op": "1", "threads.inter_op": "default"}
