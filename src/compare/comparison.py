"""A comparison: select runs -> group -> summarize -> test each group against the baseline ->
write the report -> log it as a run beside the runs it compares."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Optional

from mlflow import MlflowClient
from mlflow.entities import Experiment

from src.compare import groups, per_image, selection, stats
from src.compare.report import Report, write
from src.compare.selection import COMPARISON_KIND, CompareError, Selection


@dataclass
class ComparisonConfig:
    selection: Selection
    by: list[str] = field(default_factory=lambda: ["reg"])  # params; `reg` = `reg.name`
    baseline: Optional[str] = None  # None: the group `none` if present, else the first
    alpha: float = stats.ALPHA
    out_dir: Optional[Path] = None  # None: reports/<experiment>-<timestamp>/
    log_run: bool = True  # also log the report as a `kind=comparison` run

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise CompareError(f"--alpha {self.alpha}: must be in (0, 1)")
        keys = [selection.param_key(k) for k in self.by]
        if len(set(keys)) != len(keys):
            raise CompareError(f"--by {' '.join(self.by)}: a key is given twice")


def compare(cfg: ComparisonConfig) -> tuple[Report, Path]:
    """The whole comparison; returns the report and the path of its Markdown file."""
    client = selection.open_client(cfg.selection.uri)
    exp = selection.experiment(client, cfg.selection)
    records = selection.load(client, exp, cfg.selection)
    grouped = groups.group(records, cfg.by)
    names = stats.order(list(grouped), cfg.baseline)
    summaries = [stats.summarize(name, grouped[name]) for name in names]
    evidence = per_image.evidence(client, summaries)
    notes = groups.caveats(grouped, cfg.by)
    if evidence is None:
        notes.append("No per-image section: some runs were logged before runs recorded their "
                     "test predictions (predictions.npz), or were scored on other test images.")
    report = Report(
        exp.name, cfg.selection, cfg.by, summaries, stats.verdicts(summaries, cfg.alpha),
        groups.seed_sweep_command(records, cfg.by), notes, per_image=evidence)
    out = cfg.out_dir or Path("reports") / f"{exp.name}-{datetime.now():%Y%m%d-%H%M%S}"
    if not cfg.log_run:
        return report, write(report, out)
    by = "-".join(selection.override_key(selection.param_key(k)) for k in cfg.by)
    tags = {"compare.group_by": " ".join(cfg.by), "compare.baseline": summaries[0].label,
            "compare.filter": cfg.selection.filter_string(), "compare.n_runs": str(len(records)),
            "mlflow.note.content": "\n".join([*(f"- {v.text()}" for v in report.verdicts),
                                              "", "Full report: Artifacts → report.html"])}
    with comparison_run(client, exp, f"compare-{exp.name}-by-{by}", tags) as run_id:
        report.run_id = run_id
        path = write(report, out)
        client.log_artifacts(run_id, str(out))
    return report, path


@contextmanager
def comparison_run(client: MlflowClient, exp: Experiment, name: str,
                   tags: dict[str, str]) -> Iterator[str]:
    """A run holding the report, beside the runs it compares; FAILED if writing it raises."""
    run = client.create_run(exp.experiment_id, run_name=name,
                            tags={"kind": COMPARISON_KIND, **tags})
    status = "FAILED"
    try:
        yield run.info.run_id
        status = "FINISHED"
    finally:
        client.set_terminated(run.info.run_id, status)
