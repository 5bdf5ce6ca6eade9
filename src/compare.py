"""Compare training runs across seeds: per-group statistics, verdicts, a report and a run.

    python -m src.train -m reg=none,dropout,batchnorm seed=0,1,2    # three seeds per choice
    python -m src.compare                                           # group by reg, test, report
    python -m src.compare --experiment mnist-cnn --by reg --filter dataset=mnist

argparse rather than Hydra: on a Hydra command line `experiment=...` picks a preset from the
`conf/experiment/` group, so the word this tool needs most would mean something else there.
"""

import argparse
import os
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Optional

from mlflow.exceptions import MlflowException

from src import runs, stats
from src.report import Report, write
from src.runs import CompareError, Selection


@dataclass
class CompareConfig:
    selection: Selection
    by: list[str] = field(default_factory=lambda: ["reg"])  # params; `reg` = `reg.name`
    baseline: Optional[str] = None  # None: the group `none` if present, else the first
    alpha: float = stats.ALPHA
    out_dir: Optional[Path] = None  # None: reports/<experiment>-<timestamp>/
    log_run: bool = True  # also log the report as a `kind=comparison` run

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise CompareError(f"--alpha {self.alpha}: must be in (0, 1)")
        keys = [runs.param_key(k) for k in self.by]
        if len(set(keys)) != len(keys):
            raise CompareError(f"--by {' '.join(self.by)}: a key is given twice")


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not (sep and key and value):
        raise argparse.ArgumentTypeError(f"{text!r}: expected KEY=VALUE, e.g. dataset=mnist")
    return key, value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m src.compare", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Group finished training runs, compare test accuracy across seeds with "
                    "Welch's t-test, write a Markdown/HTML report and log it as a run.",
        epilog=__doc__.split("\n\n")[1])
    p.add_argument("--experiment", help="experiment name (default: the one with the latest run)")
    p.add_argument("--by", nargs="+", action="extend", metavar="KEY",
                   help="param(s) to group by; dataset/model/reg/optimizer stand for "
                        "<group>.name (default: reg)")
    p.add_argument("--filter", action="append", type=_key_value, default=[], metavar="KEY=VALUE",
                   help="keep runs whose param equals VALUE, e.g. dataset=mnist (repeatable)")
    p.add_argument("--sweep-dir", help="only runs of this Hydra sweep, as Hydra printed it "
                                       "(tag hydra.sweep_dir, e.g. multirun/2025-01-31/10-00-00)")
    p.add_argument("--parent-run", metavar="RUN_ID",
                   help="only child runs of this parent run (tag mlflow.parentRunId)")
    p.add_argument("--baseline", help="group the others are tested against "
                                      "(default: none if present, else the first)")
    p.add_argument("--alpha", type=float, default=stats.ALPHA, help="significance level")
    p.add_argument("--out", type=Path, help="report folder (default reports/<experiment>-<time>)")
    p.add_argument("--tracking-uri", help="default: $MLFLOW_TRACKING_URI, else "
                                          "sqlite:///mlflow.db in the current directory")
    p.add_argument("--no-log", action="store_true", help="write the report, log no run")
    return p


def parse(argv: Optional[list[str]] = None) -> CompareConfig:
    p = parser()
    args = p.parse_args(argv)
    # The resolution src.tracking.tracking_uri applies; not imported, since it loads Keras.
    uri = args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") \
        or f"sqlite:///{Path.cwd() / 'mlflow.db'}"
    try:
        return CompareConfig(
            Selection(uri, args.experiment, dict(args.filter), args.sweep_dir, args.parent_run),
            args.by or ["reg"], args.baseline, args.alpha, args.out, not args.no_log)
    except CompareError as err:
        p.error(str(err))


def compare(cfg: CompareConfig) -> tuple[Report, Path]:
    """Select -> group -> summarize -> test against the baseline -> write and log the report."""
    client = runs.open_client(cfg.selection.uri)
    exp = runs.experiment(client, cfg.selection)
    records = runs.load(client, exp, cfg.selection)
    grouped = runs.group(records, cfg.by)
    names = stats.order(list(grouped), cfg.baseline)
    groups = [stats.summarize(name, grouped[name]) for name in names]
    report = Report(
        exp.name, cfg.selection, cfg.by, groups,
        [stats.verdict(g, groups[0], cfg.alpha) for g in groups[1:]],
        runs.seed_sweep_command(records, cfg.by), runs.caveats(grouped))
    out = cfg.out_dir or Path("reports") / f"{exp.name}-{datetime.now():%Y%m%d-%H%M%S}"
    if not cfg.log_run:
        return report, write(report, out)
    by = "-".join(runs.override_key(runs.param_key(k)) for k in cfg.by)
    tags = {"compare.group_by": " ".join(cfg.by), "compare.baseline": groups[0].label,
            "compare.filter": cfg.selection.filter_string(), "compare.n_runs": str(len(records)),
            "mlflow.note.content": "\n".join([*(f"- {v.text()}" for v in report.verdicts),
                                              "", "Full report: Artifacts → report.html"])}
    with runs.comparison_run(client, exp, f"compare-{exp.name}-by-{by}", tags) as run_id:
        report.run_id = run_id
        path = write(report, out)
        client.log_artifacts(run_id, str(out))
    return report, path


def main(argv: Optional[list[str]] = None) -> int:
    cfg = parse(argv)
    try:
        report, path = compare(cfg)
    except (CompareError, MlflowException) as err:
        print(f"compare: error: {err}", file=sys.stderr)
        return 1
    print(f"{report.title} ({sum(g.n for g in report.groups)} runs)")
    print("\n".join(v.text() for v in report.verdicts))
    if not all(v.testable for v in report.verdicts):
        print(f"for a significance test, repeat over seeds:\n    {report.sweep_command}")
    print(f"report: {path} (and report.html beside it)")
    if report.run_id:
        print(f"comparison run: {report.run_id} in experiment {report.experiment}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
