"""The comparison report: one Markdown source, rendered to a self-contained HTML page, plus PNGs.

The HTML embeds its images so that it also reads inside the MLflow UI's artifact viewer, where
relative image links do not resolve.
"""

import base64
import csv
from dataclasses import dataclass
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Optional

from markdown_it import MarkdownIt

from src.compare import plots
from src.compare.per_image import Evidence
from src.compare.selection import Selection, param_key
from src.compare.stats import CONFIDENCE, TEST_NAME, GroupStats, Verdict

FIGURES = {
    "validation_curves.png": ("Validation loss and accuracy per epoch", plots.validation),
    "train_vs_validation.png": ("Train vs validation per group", plots.train_vs_validation),
    "test_accuracy.png": ("Test accuracy per seed", plots.test_accuracy),
}
STYLE = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;line-height:1.45}"
         "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}"
         "th{background:#f3f3f3}img{max-width:100%}code{background:#f3f3f3}")


@dataclass
class Report:
    experiment: str
    selection: Selection
    keys: list[str]
    groups: list[GroupStats]  # baseline first
    verdicts: list[Verdict]
    sweep_command: str  # the seed sweep to run when a group has a single seed
    notes: list[str]  # caveats about comparability, from src.compare.groups.caveats
    run_id: Optional[str] = None  # the comparison run the report is logged to
    per_image: Optional[Evidence] = None  # None: some run logged no predictions.npz

    @property
    def title(self) -> str:
        return f"{self.experiment}: runs compared by {', '.join(map(param_key, self.keys))}"


def _pct(value: float) -> str:
    return f"{100 * value:.2f}"


def _row(cells: list) -> str:
    return "| " + " | ".join(map(str, cells)) + " |"


def _group_table(groups: list[GroupStats]) -> list[str]:
    head = ["group", "n", "test acc. % (mean ± std)", f"{CONFIDENCE:.0%} CI %",
            "test-set floor ±", "best val acc. % (epoch)", "train−val loss gap", "s / epoch",
            "params"]
    rows = [_row(head), _row(["---"] * len(head))]
    for g in groups:
        acc = _pct(g.mean) + (f" ± {_pct(g.std)}" if g.std is not None else "")
        ci = f"[{_pct(g.ci[0])}, {_pct(g.ci[1])}]" if g.ci else "—"
        floor = f"{_pct(g.test_floor)} ({g.n_test:,} images)" if g.test_floor else "—"
        params = ", ".join(f"{int(p):,}" if p.isdigit() else p for p in g.model_params)
        rows.append(_row([f"**{g.label}**", g.n, acc, ci, floor,
                          _best_validation(g), _number(g.loss_gap, "+.3f"),
                          f"{g.epoch_seconds:.1f}", params]))
    return rows


def _best_validation(g: GroupStats) -> str:
    if g.best_val_accuracy is None:
        return "— (final fit)"
    return f"{_pct(g.best_val_accuracy)} ({g.best_epoch})"


def _number(value: Optional[float], form: str) -> str:
    return "—" if value is None else format(value, form)


def _verdict_table(verdicts: list[Verdict]) -> list[str]:
    head = ["group", "difference, pt", f"{CONFIDENCE:.0%} CI, pt", "Hedges' g", "p", "Holm p",
            "verdict", "seeds a group for 80 % power", "smallest detectable, pt"]
    rows = [_row(head), _row(["---"] * len(head))]
    for v in verdicts:
        ci = f"[{v.ci_pt[0]:+.2f}, {v.ci_pt[1]:+.2f}]" if v.ci_pt else "—"
        decided = {True: "**different**", False: "undecided", None: "—"}[v.significant]
        rows.append(_row([f"**{v.group}**", f"{v.diff_pt:+.2f}", ci, _number(v.hedges_g, "+.2f"),
                          _number(v.p_value, ".2g"), _number(v.p_holm, ".2g"), decided,
                          _number(v.seeds_needed, "d"), _number(v.detectable_pt, ".2f")]))
    return rows


def _per_image_lines(evidence: Evidence, groups: list[GroupStats]) -> list[str]:
    ensembles, baseline = evidence.ensembles, evidence.ensembles[0].label
    head = ["group", "seeds", "seed-ensemble acc. %", "mean seed acc. %",
            "right only here", f"right only in {baseline}", "McNemar p", "Holm p"]
    rows = [_row(head), _row(["---"] * len(head))]
    paired = {p.group: p for p in evidence.paired}
    for ensemble, group in zip(ensembles, groups, strict=True):
        test = paired.get(ensemble.label)
        pair_cells = ([test.only_group, test.only_baseline, f"{test.p_value:.2g}",
                       f"{test.p_holm:.2g}"] if test else ["—"] * 4)
        rows.append(_row([f"**{ensemble.label}**", ensemble.seeds, _pct(ensemble.accuracy),
                          _pct(group.mean), *pair_cells]))
    n_images, how = len(ensembles[0].correct), ensembles[0].how
    return ["## Per image", "",
            f"Each group's seeds as one ensemble ({how} over its seeds), scored on the same "
            f"{n_images:,} test images, and paired with {baseline}'s ensemble image by image by "
            "McNemar's exact test on the images where exactly one of the two is right (Holm-"
            f"adjusted over the {len(evidence.paired)} pair(s)). Evidence the seed-level test "
            "cannot see: which images each group gets right.", "", *rows, ""]


def _runs_table(groups: list[GroupStats]) -> list[str]:
    rows = [_row(["run", "group", "seed", "test acc. %", "epochs", "run id"]),
            _row(["---"] * 6)]
    for g in groups:
        rows += [_row([r.name, g.label, r.params.get("seed", "?"), _pct(r.test_accuracy),
                       r.epochs, f"`{r.run_id}`"]) for r in g.runs]
    return rows


def markdown(report: Report) -> str:
    sel, groups = report.selection, report.groups
    n_runs = sum(g.n for g in groups)
    lines = [
        f"# {report.title}", "",
        f"{n_runs} finished runs in experiment `{report.experiment}` at `{sel.uri}`, "
        f"generated {datetime.now():%Y-%m-%d %H:%M}.",
        f"Selected with the MLflow filter `{sel.filter_string()}`.",
    ]
    if report.run_id:
        lines.append(f"Logged as the comparison run `{report.run_id}` (tag `kind=comparison`).")
    lines += ["", "## Verdicts", ""]
    if not report.verdicts:
        lines += ["Only one group: nothing to compare against.", ""]
    elif all(v.testable for v in report.verdicts):
        family = report.verdicts[0].family
        lines += [f"Each group's per-seed test accuracy against the baseline "
                  f"**{groups[0].label}**, by {TEST_NAME}, α = {report.verdicts[0].alpha:g}. "
                  f"The family is the {family} comparison(s) against {groups[0].label} in this "
                  "report: each verdict is taken on its Holm-adjusted p.", ""]
    else:
        lines += ["**No significance claim is possible**: a group with a single seed says "
                  "nothing about seed-to-seed noise. Repeat every group over seeds, then run "
                  "`python -m src.compare` again:", "", f"    {report.sweep_command}", ""]
    lines += [f"- {v.text()}" for v in report.verdicts]
    if report.verdicts and all(v.testable for v in report.verdicts):
        lines += ["", *_verdict_table(report.verdicts), "",
                  "Difference: mean test accuracy minus the baseline's, with its Welch–"
                  "Satterthwaite interval. Hedges' g: the difference over the pooled seed std, "
                  "with Hedges' (1981) small-sample correction. Power: a two-sided two-sample "
                  "t-test at α / family (Holm's strictest step); seeds a group: what 80 % power "
                  "needs at the observed g; smallest detectable: the difference the current "
                  "seeds detect with 80 % power, at the observed spread."]
    lines += ["", "## Per group", "", *_group_table(groups), "",
              "Mean ± sample standard deviation over seeds, in %. "
              f"{CONFIDENCE:.0%} CI: the t-based interval for the mean, "
              "mean ± t(0.975, n−1)·std/√n. Test-set floor: √(p(1−p)/n_test), how much a "
              "test set of that size moves the accuracy on its own; a seed std near it says "
              "the test set, not training, limits what the seeds can resolve. Best val acc.: "
              "the maximum of the seed-averaged validation accuracy curve, and its epoch. "
              "Train−val loss gap: training loss minus validation loss at the last epoch, "
              "mean over seeds; negative means the validation loss sits above the training "
              "loss, the overfitting sign the notebooks discuss (dropout, active only in "
              "training, pushes it up). s / epoch: mean wall time per "
              "epoch, training plus validation. Params: `model.params`.", ""]
    if report.per_image:
        lines += _per_image_lines(report.per_image, groups)
    if report.notes:
        lines += ["## Caveats", "", *[f"- {note}" for note in report.notes], ""]
    lines += ["## Curves", ""]
    lines += [f"![{caption}]({name})\n" for name, (caption, _) in FIGURES.items()]
    lines += ["## Runs", "", *_runs_table(groups), ""]
    return "\n".join(lines)


def html(md: str, title: str, images: dict[str, bytes]) -> str:
    body = MarkdownIt("commonmark").enable("table").render(md)
    for name, data in images.items():
        body = body.replace(f'src="{name}"',
                            f'src="data:image/png;base64,{base64.b64encode(data).decode()}"')
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>{body}</body></html>\n")


def write(report: Report, out_dir: Path) -> Path:
    """report.md, report.html, the figures and runs.csv into `out_dir`; returns report.md."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, (_, draw) in FIGURES.items():
        figure = draw(report.groups)
        figure.savefig(out_dir / name, dpi=110)
        plots.plt.close(figure)
    md = markdown(report)
    (out_dir / "report.md").write_text(md)
    images = {name: (out_dir / name).read_bytes() for name in FIGURES}
    (out_dir / "report.html").write_text(html(md, report.title, images))
    with open(out_dir / "runs.csv", "w", newline="") as f:
        rows = csv.writer(f)
        rows.writerow(["run_id", "run_name", "group", "seed", "test_accuracy", "epochs"])
        for g in report.groups:
            rows.writerows([r.run_id, r.name, g.label, r.params.get("seed"), r.test_accuracy,
                            r.epochs] for r in g.runs)
    return out_dir / "report.md"
