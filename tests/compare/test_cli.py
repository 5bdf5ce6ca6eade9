"""`python -m src.compare` as a user runs it: usage errors, a missing store, a real seed sweep."""

import pytest
from mlflow import MlflowClient

from src.compare import cli
from tests.conftest import imported, run_cli, user_lines


def test_a_missing_store_is_told_in_one_line_before_mlflow_loads_and_not_created(tmp_path):
    result = run_cli("src.compare", cwd=tmp_path, PYTHONPROFILEIMPORTTIME="1")
    assert result.returncode == 1
    assert not imported(result.stderr) & {"mlflow", "scipy"}
    [told] = user_lines(result.stderr).strip().splitlines()
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert told.startswith(f"compare: error: no tracking store at {store}: train first")
    assert not (tmp_path / "mlflow.db").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--filter", "dataset"], "expected KEY=VALUE"), (["--alpha", "2"], "must be in (0, 1)"),
    (["--by", "reg", "reg.name"], "a key is given twice")])
def test_bad_arguments_are_usage_errors(args, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.parse(args)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.slow
def test_seed_sweep_then_compare_end_to_end(tmp_path, sqlite_uri, synthetic):
    env = {"MLFLOW_TRACKING_URI": sqlite_uri}
    sweep = run_cli("src.train", "-m", "reg=none,dropout", "seed=0,1", "trainer.epochs=1",
                    "dataset.train_limit=1000", *synthetic, cwd=tmp_path, **env)
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    result = run_cli("src.compare", "--out", "report", cwd=tmp_path, **env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Downloading artifacts" not in result.stderr  # no bar per run's predictions
    md = (tmp_path / "report" / "report.md").read_text()
    assert "| **none** | 2 |" in md and "| **dropout** | 2 |" in md
    assert "Welch's t-test" in md
    assert "## Per image" in md and "| **dropout** | 2 |" in md.split("## Per image")[1]
    verdict = next(line for line in md.splitlines() if line.startswith("- dropout vs none: "))
    assert "(95% CI [" in verdict and "Holm p=" in verdict and "n=2 each" in verdict
    client = MlflowClient(env["MLFLOW_TRACKING_URI"])
    exp = client.get_experiment_by_name("synthetic-cnn")
    [cmp] = client.search_runs([exp.experiment_id], "tags.kind = 'comparison'")
    assert cmp.info.run_name == "compare-synthetic-cnn-by-reg"
    artifacts = {a.path for a in client.list_artifacts(cmp.info.run_id)}
    assert {"report.md", "report.html", "validation_curves.png", "test_accuracy.png"} <= artifacts
