"""A whole comparison: the report's files, and the comparison run logged beside the runs."""

from src.compare import cli, comparison
from tests.compare.conftest import log_run


def test_report_files_and_comparison_run_with_artifacts(store, tmp_path, capsys):
    uri, client, exp_id = store
    out = tmp_path / "report"
    assert cli.main(["--tracking-uri", uri, "--out", str(out)]) == 0
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
    again = comparison.compare(cli.parse(["--tracking-uri", uri, "--no-log", "--out", str(out)]))
    assert sum(g.n for g in again[0].groups) == 9, "the comparison run was compared again"


def test_single_seed_groups_claim_nothing_and_suggest_the_seed_sweep(empty_store, tmp_path):
    uri, client, exp_id = empty_store
    log_run(client, exp_id, "none", 0, 0.9893)
    log_run(client, exp_id, "dropout", 0, 0.9900)
    report, path = comparison.compare(cli.parse(
        ["--tracking-uri", uri, "--no-log", "--out", str(tmp_path / "r")]))
    assert report.verdicts[0].p_value is None
    text = path.read_text()
    assert "dropout vs none: +0.07 pt from n=1 each: no significance claim is possible" in text
    assert "python -m src.train -m reg=dropout,none seed=0,1,2 trainer.epochs=3" in text


def test_the_report_tables_each_verdicts_interval_effect_holm_p_and_power(store, tmp_path):
    uri, _, _ = store
    report, path = comparison.compare(cli.parse(
        ["--tracking-uri", uri, "--no-log", "--out", str(tmp_path / "r")]))
    md = path.read_text()
    assert ("The family is the 2 comparison(s) against none in this report: each verdict is "
            "taken on its Holm-adjusted p.") in md
    assert ("| group | difference, pt | 95% CI, pt | Hedges' g | p | Holm p | verdict | "
            "seeds a group for 80 % power | smallest detectable, pt |") in md
    for v in report.verdicts:
        row = next(line for line in md.splitlines() if line.startswith(f"| **{v.group}** | +"))
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[1:7] == [f"{v.diff_pt:+.2f}", f"[{v.ci_pt[0]:+.2f}, {v.ci_pt[1]:+.2f}]",
                              f"{v.hedges_g:+.2f}", f"{v.p_value:.2g}", f"{v.p_holm:.2g}",
                              "**different**" if v.significant else "undecided"]
    assert "test-set floor ±" in md
