"""Compare training runs across seeds: per-group statistics, verdicts, a report and a run.

    python -m src.train -m reg=none,dropout,batchnorm seed=0,1,2    # three seeds per choice
    python -m src.compare                                           # group by reg, test, report
    python -m src.compare --experiment mnist_cnn --by reg --filter dataset=mnist

argparse rather than Hydra: on a Hydra command line `experiment=...` picks a preset from the
`conf/experiment/` group, so the word this tool needs most would mean something else there.
"""

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from src.compare import ALPHA
from src.errors import BadInput
from src.tracking import store

if TYPE_CHECKING:  # loaded once the arguments and the store are checked
    from src.compare.comparison import ComparisonConfig


def key_value(text: str) -> tuple[str, str]:
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
    p.add_argument("--filter", action="append", type=key_value, default=[], metavar="KEY=VALUE",
                   help="keep runs whose param equals VALUE, e.g. dataset=mnist (repeatable)")
    p.add_argument("--sweep-dir", help="only runs of this Hydra sweep, as Hydra printed it "
                                       "(tag hydra.sweep_dir, e.g. multirun/3f9c0a1b2d4e)")
    p.add_argument("--parent-run", metavar="RUN_ID",
                   help="only child runs of this parent run (tag mlflow.parentRunId)")
    p.add_argument("--baseline", help="group the others are tested against "
                                      "(default: none if present, else the first)")
    p.add_argument("--alpha", type=float, default=ALPHA, help="significance level")
    p.add_argument("--out", type=Path, help="report folder (default reports/<experiment>-<time>)")
    p.add_argument("--tracking-uri", help="default: $MLFLOW_TRACKING_URI, else "
                                          "sqlite:///mlflow.db in the current directory")
    p.add_argument("--no-log", action="store_true", help="write the report, log no run")
    return p


def parse(argv: Optional[list[str]] = None) -> "ComparisonConfig":
    p = parser()
    return config(p, p.parse_args(argv))


def config(p: argparse.ArgumentParser, args: argparse.Namespace) -> "ComparisonConfig":
    from src.compare.comparison import ComparisonConfig
    from src.compare.selection import CompareError, Selection

    uri = store.tracking_uri(args.tracking_uri)  # the store src.train logs to
    try:
        return ComparisonConfig(
            Selection(uri, args.experiment, dict(args.filter), args.sweep_dir, args.parent_run),
            args.by or ["reg"], args.baseline, args.alpha, args.out, not args.no_log)
    except CompareError as err:
        p.error(str(err))


def main(argv: Optional[list[str]] = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    try:  # a missing store or a dead server is told before MLflow and SciPy load (seconds)
        store.check_readable(store.tracking_uri(args.tracking_uri))
    except BadInput as err:
        print(f"compare: error: {err}", file=sys.stderr)
        return 1
    cfg = config(p, args)
    # One download bar per run's predictions (the per-image section) would bury the verdicts.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from mlflow.exceptions import MlflowException

    from src.compare.comparison import compare

    try:
        report, path = compare(cfg)
    except (BadInput, MlflowException) as err:
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
