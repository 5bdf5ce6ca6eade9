"""Reading finished training runs back from MLflow for a comparison.

Runs are selected with MLflow filter strings; only what a filter string cannot express (a run
that is another run's parent, a metric that is absent) is checked here in Python.
"""

from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from mlflow import MlflowClient
from mlflow.entities import Experiment, Run, RunStatus

from src.choices import GROUPS
from src.errors import BadInput
from src.tracking import store

CURVES = ("loss", "accuracy", "val_loss", "val_accuracy", "epoch_seconds")
FINAL = "test_accuracy"
COMPARISON_KIND = "comparison"  # tag `kind` of comparison runs (src.compare.comparison)


class CompareError(BadInput):
    """Runs that cannot be compared as asked; the CLI prints the message and exits non-zero."""


class NoRunsError(CompareError):
    """Nothing matched the experiment and filters."""


class MissingMetricError(CompareError):
    """A selected run lacks a metric the report needs (a crashed or foreign run)."""


class MixedDatasetError(CompareError):
    """One group holds runs on different datasets, so its mean means nothing."""


def param_key(key: str) -> str:
    """`reg` -> `reg.name`: a config group stands for the choice made in it."""
    return f"{key}.name" if key in GROUPS else key


def override_key(param: str) -> str:
    """`reg.name` -> `reg`: how a Hydra command line picks that choice."""
    group = param.removesuffix(".name")
    return group if group in GROUPS else param


@dataclass
class Selection:
    """What to compare; said back verbatim in errors and in the report."""

    uri: str
    experiment: Optional[str] = None  # None: the experiment with the latest training run
    params: dict[str, str] = field(default_factory=dict)  # param -> exact value
    sweep_dir: Optional[str] = None  # tag hydra.sweep_dir, as Hydra printed it
    parent_run: Optional[str] = None  # tag mlflow.parentRunId, where sweeps log a parent run

    def __post_init__(self) -> None:
        values = [*self.params.values(), self.sweep_dir or "", self.parent_run or ""]
        for value in values:  # quoted in MLflow's filter syntax, which has no escapes
            if "'" in value or '"' in value:
                raise CompareError(f"filter value {value!r}: quotes are not allowed")

    def filter_string(self) -> str:
        # Training runs log their whole config, so `seed` exists on them and on nothing else.
        clauses = [f"attributes.status = '{RunStatus.to_string(RunStatus.FINISHED)}'",
                   "params.seed LIKE '%'"]
        clauses += [f"params.`{param_key(k)}` = '{v}'" for k, v in self.params.items()]
        if self.sweep_dir:
            clauses.append(f"tags.`hydra.sweep_dir` = '{self.sweep_dir.rstrip('/')}'")
        if self.parent_run:
            clauses.append(f"tags.`mlflow.parentRunId` = '{self.parent_run}'")
        return " AND ".join(clauses)

    def describe(self) -> str:
        return f"tracking URI {self.uri}, experiment {self.experiment or '(latest)'}, " \
               f"filter: {self.filter_string()}"


@dataclass
class RunRecord:
    """One finished training run: its params and its per-epoch curves (index 0 = epoch 1)."""

    run_id: str
    name: str
    params: dict[str, str]
    tags: dict[str, str]
    test_accuracy: float
    curves: dict[str, np.ndarray]

    @property
    def epochs(self) -> int:
        return len(self.curves["loss"])


def open_client(uri: str) -> MlflowClient:
    """A client for an existing, reachable store (`store.check_readable`)."""
    store.check_readable(uri)
    return MlflowClient(uri)


def _search(client: MlflowClient, ids: list[str], filter_string: str, **kw) -> list[Run]:
    runs, token = [], None
    while True:
        page = client.search_runs(ids, filter_string, page_token=token, **kw)
        runs += page
        token = page.token
        if not token or kw.get("max_results"):
            return runs


def experiment(client: MlflowClient, sel: Selection) -> Experiment:
    """The named experiment, or the one whose training run started last."""
    if sel.experiment:
        found = client.get_experiment_by_name(sel.experiment)
        if found is None:
            names = ", ".join(sorted(e.name for e in client.search_experiments()))
            raise NoRunsError(f"no experiment named {sel.experiment!r} at {sel.uri}; "
                              f"experiments there: {names or 'none'}")
        return found
    ids = [e.experiment_id for e in client.search_experiments()]
    latest = _search(client, ids, sel.filter_string(), max_results=1,
                     order_by=["attributes.start_time DESC"]) if ids else []
    if not latest:
        raise NoRunsError(f"no finished training runs matched ({sel.describe()})")
    return client.get_experiment(latest[0].info.experiment_id)


def _curve(client: MlflowClient, run_id: str, key: str) -> np.ndarray:
    by_step = {m.step: m.value for m in client.get_metric_history(run_id, key)}
    return np.array([by_step[s] for s in sorted(by_step)], dtype=float)


def load(client: MlflowClient, exp: Experiment, sel: Selection) -> list[RunRecord]:
    """Every matching training run with its curves; a run missing a metric stops the comparison."""
    found = _search(client, [exp.experiment_id], sel.filter_string(),
                    order_by=["attributes.run_name ASC"])
    parents = {r.data.tags.get("mlflow.parentRunId") for r in found}
    # The kind check is a second guard: comparison runs log no `seed`, so the filter skips them.
    runs = [r for r in found if r.info.run_id not in parents
            and r.data.tags.get("kind") != COMPARISON_KIND]
    if not runs:
        raise NoRunsError(f"no finished training runs matched ({sel.describe()})")
    records, missing = [], []
    for run in runs:
        curves = {key: _curve(client, run.info.run_id, key) for key in CURVES}
        validated = run.data.params.get("dataset.final_fit") != "True"  # a final fit did not
        absent = [k for k, v in curves.items() if not len(v) and (validated or "val_" not in k)]
        absent += [] if FINAL in run.data.metrics else [FINAL]
        if absent:
            missing.append(f"{run.info.run_name} ({run.info.run_id}): {', '.join(absent)}")
            continue
        records.append(RunRecord(run.info.run_id, run.info.run_name, run.data.params,
                                 run.data.tags, run.data.metrics[FINAL], curves))
    if missing:
        raise MissingMetricError(
            f"{len(missing)} run(s) in experiment {exp.name!r} lack metrics the comparison "
            f"needs:\n  " + "\n  ".join(missing) + "\nExclude them (--sweep-dir, --filter) "
            "or delete them in the UI.")
    return records


