"""Reading training runs back from MLflow for a comparison, and logging the comparison itself.

Runs are selected with MLflow filter strings; only what a filter string cannot express (a run
that is another run's parent, a metric that is absent) is checked here in Python.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import requests
from mlflow import MlflowClient
from mlflow.entities import Experiment, Run, RunStatus

CURVES = ("loss", "accuracy", "val_loss", "val_accuracy", "epoch_seconds")
FINAL = "test_accuracy"
COMPARISON_KIND = "comparison"  # tag `kind` of the runs this module logs; never compared again
GROUPS = ("dataset", "model", "reg", "optimizer")  # `--by reg` means the param `reg.name`
# Params that may differ between repeats of one setting: the seed, the machine, library versions.
BOOKKEEPING = ("seed", "version.", "device", "data.source", "dataset.data_dir")


class CompareError(RuntimeError):
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
        return len(self.curves["val_accuracy"])


def open_client(uri: str) -> MlflowClient:
    """A client for an existing store: MLflow would silently create an empty SQLite file."""
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
        raise NoRunsError(f"no tracking store at {uri}: train first (python -m src.train) "
                          "or point --tracking-uri / MLFLOW_TRACKING_URI at the store")
    if uri.startswith(("http://", "https://")):
        # The probe src.tracking.check_reachable does; not imported, since that module loads
        # Keras (seconds of start-up) and the client's own retries take minutes to give up.
        try:
            requests.get(f"{uri.rstrip('/')}/health", timeout=5).raise_for_status()
        except requests.RequestException as exc:
            raise CompareError(f"MLflow tracking server {uri} is unreachable "
                               f"({type(exc).__name__})") from exc
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
        absent = [k for k, v in curves.items() if not len(v)]
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


def group(records: list[RunRecord], keys: list[str]) -> dict[str, list[RunRecord]]:
    """Runs by their values of `keys`; each group must hold a single dataset."""
    params = [param_key(k) for k in keys]
    lacking = [r.name for r in records if any(p not in r.params for p in params)]
    if lacking:
        raise CompareError(f"run(s) without param(s) {', '.join(params)}: {', '.join(lacking)}")
    groups: dict[str, list[RunRecord]] = {}
    for record in records:
        groups.setdefault(label(record, keys), []).append(record)
    for name, members in groups.items():
        datasets: dict[str, list[str]] = {}
        for r in members:
            datasets.setdefault(r.params.get("dataset.name", "?"), []).append(r.name)
        if len(datasets) > 1:
            mixed = "; ".join(f"{d}: {', '.join(n)}" for d, n in sorted(datasets.items()))
            raise MixedDatasetError(
                f"group {name!r} mixes datasets ({mixed}); add --filter dataset=<name> "
                "or group by it too (--by dataset " + " ".join(keys) + ")")
    return groups


def caveats(groups: dict[str, list[RunRecord]]) -> list[str]:
    """What makes a group's seeds less than clean repeats: a repeated seed, a differing param."""
    notes = []
    for name, members in groups.items():
        seeds = [r.params["seed"] for r in members]
        repeated = sorted({s for s in seeds if seeds.count(s) > 1})
        if repeated:
            notes.append(f"group {name!r} holds seed(s) {', '.join(repeated)} more than once, "
                         "so those runs are not independent samples; pick one sweep (--sweep-dir)")
        keys = {k for r in members for k in r.params if not k.startswith(BOOKKEEPING)}
        for key in sorted(keys):
            values = sorted({r.params.get(key, "(absent)") for r in members})
            if len(values) > 1:
                notes.append(f"group {name!r}: {key} differs between its runs "
                             f"({', '.join(values)})")
    return notes


def label(record: RunRecord, keys: list[str]) -> str:
    """`dropout` for one key; `reg=dropout optimizer.lr=0.01` for several."""
    if len(keys) == 1:
        return record.params[param_key(keys[0])]
    return " ".join(f"{override_key(param_key(k))}={record.params[param_key(k)]}" for k in keys)


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


def seed_sweep_command(records: list[RunRecord], keys: list[str], seeds: int = 3) -> str:
    """The `src.train` multirun that repeats these groups over several seeds, same settings."""
    swept = {param_key(k): sorted({r.params[param_key(k)] for r in records}) for k in keys}
    fixed = [o for o in records[0].tags.get("hydra.overrides", "").split()
             if param_key(o.split("=")[0]) not in swept and o.split("=")[0] != "seed"]
    choices = [f"{override_key(k)}={','.join(v)}" for k, v in swept.items()]
    seeds_arg = "seed=" + ",".join(map(str, range(seeds)))
    return " ".join(["python -m src.train -m", *choices, seeds_arg, *fixed])

