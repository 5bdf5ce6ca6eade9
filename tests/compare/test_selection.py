"""Which runs a comparison reads: filters, sweeps, parents, and the errors a user meets."""

import pytest

from src.compare import cli, comparison, selection
from src.compare.selection import MissingMetricError, NoRunsError, Selection
from src.tracking.store import TrackingError
from tests.compare.conftest import SWEEP, groups_of, log_run
from tests.conftest import free_port


def test_sweep_dir_param_filter_and_parent_run_select_runs(store):
    uri, client, exp_id = store
    parent = client.create_run(exp_id, run_name="sweep", tags={"hydra.sweep_dir": "multirun/b"})
    client.log_param(parent.info.run_id, "seed", "0,1")
    for seed in (0, 1):
        log_run(client, exp_id, "none", seed, 0.97, sweep="multirun/b",
                tags={"mlflow.parentRunId": parent.info.run_id})
    client.set_terminated(parent.info.run_id)
    assert [g.n for g in groups_of(uri, "--sweep-dir", "multirun/b/").values()] == [2]
    assert [g.n for g in groups_of(uri, "--parent-run", parent.info.run_id).values()] == [2]
    assert groups_of(uri, "--filter", "reg=none")["none"].n == 5
    assert set(groups_of(uri, "--sweep-dir", SWEEP, "--by", "seed")) == {"0", "1", "2"}


def test_no_match_says_what_was_searched(store, capsys):
    uri = store[0]
    assert cli.main(["--tracking-uri", uri, "--filter", "dataset=fashion_mnist"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("compare: error: no finished training runs matched")
    assert uri in err and "experiment (latest)" in err
    assert "params.`dataset.name` = 'fashion_mnist'" in err
    with pytest.raises(NoRunsError, match="no experiment named 'nope'.*experiments there: .*mnist"):
        comparison.compare(cli.parse(["--tracking-uri", uri, "--experiment", "nope"]))


def test_run_missing_a_metric_is_named_with_the_metric(store):
    uri, client, exp_id = store
    log_run(client, exp_id, "none", 7, 0.98,
            metrics={"loss", "accuracy", "val_loss", "val_accuracy"})
    with pytest.raises(MissingMetricError) as err:
        groups_of(uri)
    assert "mnist-cnn-none-s7" in str(err.value)
    assert "epoch_seconds, test_accuracy" in str(err.value)


def test_a_missing_store_is_not_created(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with pytest.raises(TrackingError, match="no tracking store at"):
        selection.open_client(uri)
    assert not (tmp_path / "mlflow.db").exists()


def test_an_unreachable_server_is_named(tmp_path):
    with pytest.raises(TrackingError, match="is unreachable"):
        selection.open_client(f"http://127.0.0.1:{free_port()}")


def test_selection_rejects_quotes_it_cannot_escape():
    with pytest.raises(selection.CompareError, match="quotes are not allowed"):
        Selection("sqlite:///x.db", params={"reg.name": "it's"})


def test_a_group_stands_for_its_name_param():
    assert selection.param_key("reg") == "reg.name"
    assert selection.param_key("optimizer.lr") == "optimizer.lr"
    assert selection.override_key("reg.name") == "reg"
