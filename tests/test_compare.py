"""`python -m src.compare`: statistics checked against scipy on runs logged to a temp SQLite store,
the errors a user meets, and a real seed sweep compared end to end."""

import shutil
import time

import numpy as np
import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric, Param
from scipy import stats as scipy_stats

from src import compare, runs, stats
from src.runs import MissingMetricError, MixedDatasetError, NoRunsError, Selection
from tests.conftest import run_cli

# Per-seed test accuracy we log; every expectation below is computed from these with scipy.
TEST_ACC = {"none": [0.9810, 0.9820, 0.9830], "dropout": [0.9812, 0.9818, 0.9836],
            "batchnorm": [0.9880, 0.9886, 0.9891]}
VAL_ACC = [0.970, 0.985, 0.980]  # peak at epoch 2
LOSS, VAL_LOSS = [0.30, 0.10, 0.05], [0.20, 0.08, 0.09]  # last-epoch gap: 0.05 - 0.09
SWEEP = "multirun/2025-01-31/10-00-00"


def log_run(client, exp_id, reg, seed, test_acc, dataset="mnist", sweep=SWEEP, metrics=None,
            tags=None, epochs=3):
    """A finished run shaped like src.train's: params, per-epoch metrics, final test metric."""
    run = client.create_run(exp_id, run_name=f"{dataset}-cnn-{reg}-s{seed}", tags={
        "hydra.sweep_dir": sweep, "hydra.overrides": f"reg={reg} seed={seed} trainer.epochs=3",
        **(tags or {})})
    params = {"dataset.name": dataset, "model.name": "cnn", "reg.name": reg, "seed": seed,
              "model.params": 121930, "trainer.epochs": epochs}
    now = int(time.time() * 1000)
    curves = {"loss": LOSS, "accuracy": [0.9, 0.97, 0.99], "val_loss": VAL_LOSS,
              "val_accuracy": [v + seed / 1000 for v in VAL_ACC], "epoch_seconds": [4.0, 2.0, 3.0]}
    logged = [Metric(k, v, now, step) for k, vs in curves.items() for step, v in enumerate(vs, 1)]
    logged += [Metric("test_accuracy", test_acc, now, 0)]
    client.log_batch(run.info.run_id, params=[Param(k, str(v)) for k, v in params.items()],
                     metrics=[m for m in logged if metrics is None or m.key in metrics])
    client.set_terminated(run.info.run_id)
    return run.info.run_id


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    """Store files made once per module (MLflow's schema migrations take seconds): one with an
    empty experiment `mnist-cnn`, one with three seeds each of none, dropout and batchnorm."""
    folder = tmp_path_factory.mktemp("templates")
    client = MlflowClient(f"sqlite:///{folder / 'empty.db'}")
    client.create_experiment("mnist-cnn")
    shutil.copy(folder / "empty.db", folder / "sweep.db")
    client = MlflowClient(f"sqlite:///{folder / 'sweep.db'}")
    exp_id = client.get_experiment_by_name("mnist-cnn").experiment_id
    for reg, accs in TEST_ACC.items():
        for seed, acc in enumerate(accs):
            log_run(client, exp_id, reg, seed, acc)
    return folder


def copy_store(templates, name, tmp_path):
    shutil.copy(templates / name, tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    return uri, client, client.get_experiment_by_name("mnist-cnn").experiment_id


@pytest.fixture
def store(templates, tmp_path):
    """A store of its own holding the three-way, three-seed sweep."""
    return copy_store(templates, "sweep.db", tmp_path)


def groups_of(uri, *args):
    """The per-group statistics `python -m src.compare ARGS` reports, without writing anything."""
    cfg = compare.parse(["--tracking-uri", uri, "--no-log", *args])
    client = runs.open_client(uri)
    records = runs.load(client, runs.experiment(client, cfg.selection), cfg.selection)
    grouped = runs.group(records, cfg.by)
    return {name: stats.summarize(name, members) for name, members in grouped.items()}


def test_groups_hold_every_seed_with_mean_std_and_t_interval(store):
    groups = groups_of(store[0])
    assert sorted(groups) == ["batchnorm", "dropout", "none"]
    for name, accs in TEST_ACC.items():
        g = groups[name]
        assert g.n == 3 and sorted(r.params["seed"] for r in g.runs) == ["0", "1", "2"]
        assert g.mean == pytest.approx(np.mean(accs)) and g.std == pytest.approx(np.std(accs, ddof=1))
        low, high = scipy_stats.t.interval(0.95, 2, loc=np.mean(accs), scale=scipy_stats.sem(accs))
        assert g.ci == pytest.approx((low, high))


def test_curve_summaries_peak_epoch_loss_gap_and_epoch_time(store):
    g = groups_of(store[0])["none"]
    assert g.best_epoch == 2 and g.best_val_accuracy == pytest.approx(VAL_ACC[1] + 0.001)
    assert g.loss_gap == pytest.approx(LOSS[-1] - VAL_LOSS[-1])
    assert g.epoch_seconds == pytest.approx(3.0) and g.model_params == ["121930"]
    np.testing.assert_allclose(g.curves["val_accuracy"].low, VAL_ACC)
    np.testing.assert_allclose(g.curves["val_accuracy"].high, [v + 0.002 for v in VAL_ACC])


@pytest.mark.parametrize("reg, word", [("dropout", "not significant"), ("batchnorm", "significant")])
def test_verdict_is_welch_t_test_against_none_in_words(store, reg, word):
    groups = groups_of(store[0])
    v = stats.verdict(groups[reg], groups["none"])
    expected = scipy_stats.ttest_ind(TEST_ACC[reg], TEST_ACC["none"], equal_var=False).pvalue
    assert v.p_value == pytest.approx(expected)
    diff = 100 * (np.mean(TEST_ACC[reg]) - np.mean(TEST_ACC["none"]))
    assert v.text().startswith(f"{reg} vs none: {diff:+.2f} pt, {word}")
    assert f"(p={expected:.2g}, n=3 each)" in v.text()


def test_single_seed_groups_claim_nothing_and_suggest_the_seed_sweep(templates, tmp_path):
    uri, client, exp_id = copy_store(templates, "empty.db", tmp_path)
    log_run(client, exp_id, "none", 0, 0.9893)
    log_run(client, exp_id, "dropout", 0, 0.9900)
    report, path = compare.compare(compare.parse(
        ["--tracking-uri", uri, "--no-log", "--out", str(tmp_path / "r")]))
    assert report.verdicts[0].p_value is None
    text = path.read_text()
    assert "dropout vs none: +0.07 pt from n=1 each: no significance claim is possible" in text
    assert "python -m src.train -m reg=dropout,none seed=0,1,2 trainer.epochs=3" in text


def test_report_files_and_comparison_run_with_artifacts(store, tmp_path, capsys):
    uri, client, exp_id = store
    out = tmp_path / "report"
    assert compare.main(["--tracking-uri", uri, "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == {
        "report.md", "report.html", "runs.csv", "validation_curves.png",
        "train_vs_validation.png", "test_accuracy.png"}
    md = (out / "report.md").read_text()
    assert "| **none** | 3 | 98.20 ± 0.10 |" in md and "Welch's t-test" in md
    assert 'src="data:image/png;base64,' in (out / "report.html").read_text()
    [cmp] = client.search_runs([exp_id], "tags.kind = 'comparison'")
    assert cmp.info.run_name == "compare-mnist-cnn-by-reg" and cmp.info.status == "FINISHED"
    assert {a.path for a in client.list_artifacts(cmp.info.run_id)} == {
        p.name for p in out.iterdir()}
    assert "batchnorm vs none" in cmp.data.tags["mlflow.note.content"]
    assert cmp.info.run_id in md and "batchnorm vs none" in capsys.readouterr().out
    again = compare.compare(compare.parse(["--tracking-uri", uri, "--no-log", "--out", str(out)]))
    assert sum(g.n for g in again[0].groups) == 9, "the comparison run was compared again"


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


def test_repeated_seed_and_differing_setting_are_reported_as_caveats(store):
    uri, client, exp_id = store
    log_run(client, exp_id, "none", 0, 0.98, sweep="multirun/b", epochs=5)
    cfg = compare.parse(["--tracking-uri", uri, "--no-log"])
    client = runs.open_client(uri)
    notes = runs.caveats(runs.group(runs.load(client, runs.experiment(client, cfg.selection),
                                              cfg.selection), cfg.by))
    assert notes == [
        "group 'none' holds seed(s) 0 more than once, so those runs are not independent "
        "samples; pick one sweep (--sweep-dir)",
        "group 'none': trainer.epochs differs between its runs (3, 5)"]


def test_baseline_defaults_to_none_and_can_be_chosen():
    assert stats.order(["dropout", "none", "batchnorm"], None) == ["none", "batchnorm", "dropout"]
    assert stats.order(["0.01", "0.001"], None) == ["0.001", "0.01"]
    assert stats.order(["dropout", "none"], "dropout") == ["dropout", "none"]
    with pytest.raises(runs.CompareError, match="baseline 'bn' is not a group; groups: dropout, none"):
        stats.order(["dropout", "none"], "bn")


def test_no_match_says_what_was_searched(store, capsys):
    uri = store[0]
    assert compare.main(["--tracking-uri", uri, "--filter", "dataset=fashion_mnist"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("compare: error: no finished training runs matched")
    assert uri in err and "experiment (latest)" in err and "params.`dataset.name` = 'fashion_mnist'" in err
    with pytest.raises(NoRunsError, match="no experiment named 'nope'.*experiments there: .*mnist-cnn"):
        compare.compare(compare.parse(["--tracking-uri", uri, "--experiment", "nope"]))


def test_run_missing_a_metric_is_named_with_the_metric(store):
    uri, client, exp_id = store
    log_run(client, exp_id, "none", 7, 0.98, metrics={"loss", "accuracy", "val_loss", "val_accuracy"})
    with pytest.raises(MissingMetricError) as err:
        groups_of(uri)
    assert "mnist-cnn-none-s7" in str(err.value) and "epoch_seconds, test_accuracy" in str(err.value)


def test_group_mixing_datasets_names_them(store):
    uri, client, exp_id = store
    log_run(client, exp_id, "none", 0, 0.90, dataset="fashion_mnist")
    with pytest.raises(MixedDatasetError, match="group 'none' mixes datasets \\(fashion_mnist: "
                       "fashion_mnist-cnn-none-s0; mnist: mnist-cnn-none-s0"):
        groups_of(uri)
    assert set(groups_of(uri, "--by", "dataset", "reg")) >= {"dataset=fashion_mnist reg=none"}


def test_missing_store_exits_non_zero_without_traceback(tmp_path):
    result = run_cli("src.compare", cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"no tracking store at sqlite:///{tmp_path / 'mlflow.db'}" in result.stderr
    assert not (tmp_path / "mlflow.db").exists()


@pytest.mark.parametrize("args, message", [
    (["--filter", "dataset"], "expected KEY=VALUE"), (["--alpha", "2"], "must be in (0, 1)"),
    (["--by", "reg", "reg.name"], "a key is given twice")])
def test_bad_arguments_are_usage_errors(args, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        compare.parse(args)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_selection_rejects_quotes_it_cannot_escape():
    with pytest.raises(runs.CompareError, match="quotes are not allowed"):
        Selection("sqlite:///x.db", params={"reg.name": "it's"})


@pytest.mark.slow
def test_seed_sweep_then_compare_end_to_end(tmp_path):
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    sweep = run_cli("src.train", "-m", "reg=none,dropout", "seed=0,1", "trainer.epochs=1",
                    "dataset.train_limit=1000", cwd=tmp_path, **env)
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    result = run_cli("src.compare", "--out", "report", cwd=tmp_path, **env)
    assert result.returncode == 0, result.stderr[-3000:]
    md = (tmp_path / "report" / "report.md").read_text()
    assert "| **none** | 2 |" in md and "| **dropout** | 2 |" in md
    assert "Welch's t-test" in md
    verdict = next(line for line in md.splitlines() if line.startswith("- dropout vs none: "))
    assert "significant (p=" in verdict and "n=2 each" in verdict
    client = MlflowClient(env["MLFLOW_TRACKING_URI"])
    exp = client.get_experiment_by_name("mnist-cnn")
    [cmp] = client.search_runs([exp.experiment_id], "tags.kind = 'comparison'")
    assert cmp.info.run_name == "compare-mnist-cnn-by-reg"
    artifacts = {a.path for a in client.list_artifacts(cmp.info.run_id)}
    assert {"report.md", "report.html", "validation_curves.png", "test_accuracy.png"} <= artifacts
