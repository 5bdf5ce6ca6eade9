"""Run a logged run again, from its id: the command it was launched with, today's code.

    python -m src.rerun 3f9c2a...                 # the same config, a new run tagged rerun_of
    python -m src.rerun 3f9c2a... seed=3          # with overrides on top
    MLFLOW_TRACKING_URI=http://host:5000 python -m src.rerun 3f9c2a...   # from any directory

A separate entry point rather than `src.train +rerun=<id>`: Hydra composes the config before
any code of the project runs, and a rerun must choose the overrides that composition starts
from. So this reads the run from MLflow (its `.hydra/` artifacts, else its `hydra.overrides`
tag), builds the command line it was launched with, keeps the logged value of every key whose
default has changed since, puts your overrides on top, and hands that to `src.train` in this
process: the rerun is composed, checked, locked and tracked as any run is. With the run's thread
settings (its `threads.*` tags) and no overrides, it repeats the run's every epoch exactly.
"""

import argparse
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from src import console, errors
from src.errors import BadInput

SKIPPED = ("tracking.", "dataset.data_dir", "hydra.")  # where and how it ran, not what
THREADS = {"threads.intra_op": "TF_NUM_INTRAOP_THREADS",
           "threads.inter_op": "TF_NUM_INTEROP_THREADS"}


class RerunError(BadInput):
    """A run that cannot be run again: not found, or not a training run of this project."""


@dataclass
class Rerun:
    overrides: list[str]  # the command line for src.train
    notes: list[str] = field(default_factory=list)  # one-line warnings, printed first
    env: dict[str, str] = field(default_factory=dict)  # the run's thread settings


def as_override(value: Any) -> str:
    """A config value as Hydra's override grammar reads it back."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(as_override(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{as_override(v)}" for k, v in value.items()) + "}"
    if isinstance(value, str) and not value.replace("_", "").replace(".", "").isalnum():
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return str(value)


def flat(node: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(node, dict):
        return {prefix[:-1]: node}
    return {k: v for key, child in node.items() for k, v in flat(child, f"{prefix}{key}.").items()}


def key_of(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def training_run(client, run_id: str, uri: str):
    """The run, refused unless it is a training run this project logged."""
    from mlflow.exceptions import MlflowException

    try:
        run = client.get_run(run_id)
    except MlflowException as exc:
        raise RerunError(f"run {run_id} not found in {uri}: check the id (the UI's run page) "
                         "and the tracking URI (MLFLOW_TRACKING_URI or tracking.uri=...)") from exc
    tags = run.data.tags
    if tags.get("kind") == "compare":
        raise RerunError(f"run {run_id} is a comparison (src.compare), not a training run: rerun "
                         "one of the runs it compares")
    if "sweep.launcher" in tags or ("config_hash" not in tags and "hydra.sweep_dir" in tags):
        raise RerunError(f"run {run_id} is a sweep's parent run, not a training run: rerun one "
                         "of its jobs (the + beside it in the UI lists them)")
    if "config_hash" not in tags or "hydra.overrides" not in tags:
        raise RerunError(f"run {run_id} was not logged by this project's src.train (it has no "
                         "config_hash and hydra.overrides tags): there is no command to repeat")
    return run


def logged_hydra(client, run_id: str) -> tuple[list[str] | None, dict | None]:
    """The run's `.hydra/overrides.yaml` and `config.yaml`, if it logged them (it does when it
    finishes)."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            folder = Path(client.download_artifacts(run_id, ".hydra", tmp))
        except Exception:  # noqa: BLE001 - no such artifact, in whatever way the store says it
            return None, None
        overrides = folder / "overrides.yaml"
        config = folder / "config.yaml"
        return (OmegaConf.to_container(OmegaConf.load(overrides)) if overrides.exists() else None,
                OmegaConf.to_container(OmegaConf.load(config)) if config.exists() else None)


def changed_defaults(logged_overrides: list[str], logged_config: dict) -> tuple[list, str]:
    """Overrides that keep the run's values where today's defaults differ, and a line saying
    which."""
    from hydra import compose, initialize_config_dir

    from src.config import CONF_DIR, register

    register()
    with initialize_config_dir(CONF_DIR, version_base="1.3"):
        today = OmegaConf.to_container(compose("config", overrides=logged_overrides),
                                       resolve=False)
    then, now = flat(logged_config), flat(today)
    differ = sorted(k for k in then.keys() & now.keys()
                    if then[k] != now[k] and not k.startswith(SKIPPED))
    gone = sorted(k for k in then.keys() - now.keys() if not k.startswith(SKIPPED))
    keep = [f"{key}={as_override(then[key])}" for key in differ]
    said = []
    if differ:
        said.append("today's defaults differ from the run's config in " + "; ".join(
            f"{k} (run {as_override(then[k])}, today {as_override(now[k])})" for k in differ)
            + ": using the run's values")
    if gone:
        said.append(f"no longer settings, left out: {', '.join(gone)}")
    return keep, "; ".join(said)


def plan(uri: str, run_id: str, new: list[str]) -> Rerun:
    from mlflow import MlflowClient

    from src.tracking import provenance, store

    store.check_reachable(uri)
    if not store.store_exists(uri):
        raise RerunError(f"no tracking store at {uri}: set MLFLOW_TRACKING_URI (or "
                         "tracking.uri=...) to the store the run is in")
    client = MlflowClient(uri)
    run = training_run(client, run_id, uri)
    tags = run.data.tags
    overrides, config = logged_hydra(client, run_id)
    if overrides is None:
        overrides = tags["hydra.overrides"].split()
    mine = {key_of(o) for o in new}
    base = [o for o in overrides if key_of(o) not in mine and not key_of(o).startswith(
        ("tracking.rerun_of", "tracking.skip_finished"))]
    notes, keep = [], []
    if config is not None:
        keep, said = changed_defaults(base, config)
        keep = [o for o in keep if key_of(o) not in mine]
        notes += [said] if said else []
    here = provenance.git_tags()
    if tags.get("git.commit") not in (None, here["git.commit"]):
        notes.append(f"run {run_id} was trained at commit {tags['git.commit'][:12]}, this "
                     f"checkout is at {here['git.commit'][:12]}: the code may differ")
    if tags.get("git.dirty") == "true":
        notes.append(f"run {run_id} was trained with uncommitted changes: they are not here")
    env = {variable: tags[tag] for tag, variable in THREADS.items()
           if tags.get(tag, "default") != "default" and variable not in os.environ}
    return Rerun([*base, *keep, f"tracking.rerun_of={run_id}", "tracking.skip_finished=false",
                  *new], notes, env)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m src.rerun", description=__doc__.splitlines()[0],
        epilog="The tracking store: tracking.uri=... among the overrides, else "
               "$MLFLOW_TRACKING_URI, else ./mlflow.db.")
    parser.add_argument("run_id", help="the MLflow run id of a training run")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides on top, e.g. seed=3")
    args = parser.parse_args(argv)
    console.quiet_by_default()
    with errors.reported():
        from src.tracking import store

        uri = next((o.split("=", 1)[1] for o in args.overrides if key_of(o) == "tracking.uri"),
                   None)
        rerun = plan(store.tracking_uri(uri), args.run_id, args.overrides)
    for note in rerun.notes:
        print(f"warning: {note}", file=sys.stderr)
    os.environ.update(rerun.env)
    print(f"Rerun of {args.run_id}: python -m src.train {' '.join(rerun.overrides)}", flush=True)
    sys.argv = ["src.train", *rerun.overrides]
    from src import train

    train.main()


if __name__ == "__main__":
    main()
