"""Pick the best run of a selection by validation accuracy, register its logged model under an
alias, and resolve what `serve` was given to a logged model. MlflowClient only: no Keras.

The test set never chooses: it is read once per run, to report, so a model picked by test
accuracy would carry an optimistic number into the registry.
"""

from dataclasses import dataclass
from typing import Optional

from mlflow import MlflowClient
from mlflow.entities import Run
from mlflow.exceptions import MlflowException

from src.compare import selection
from src.compare.selection import COMPARISON_KIND, Selection
from src.errors import BadInput

CHOOSE_BY = "val_accuracy"  # the last epoch's, as the run logged it


class RegistryError(BadInput):
    """A selection, model name, alias or run that cannot be registered or served as asked."""


@dataclass
class Registered:
    name: str
    version: str
    alias: str
    run: Run

    @property
    def uri(self) -> str:
        return f"models:/{self.name}@{self.alias}"


def logged_model_id(run: Run) -> Optional[str]:
    """The model the run logged last (a resumed run may have logged one per launch)."""
    outputs = run.outputs.model_outputs if run.outputs else []
    return max(outputs, key=lambda out: out.step).model_id if outputs else None


def candidates(client: MlflowClient, sel: Selection, comparison: Optional[str]) -> list[Run]:
    """Finished training runs of the selection, or of the runs a comparison run compared."""
    if comparison:
        compared = _get_run(client, comparison)
        if compared.data.tags.get("kind") != COMPARISON_KIND:
            raise RegistryError(f"run {comparison} is not a comparison run (tag kind="
                                f"{COMPARISON_KIND}); pass a run `python -m src.compare` logged")
        experiment_ids = [compared.info.experiment_id]
        filter_string = compared.data.tags["compare.filter"]
    else:
        experiment_ids = [selection.experiment(client, sel).experiment_id]
        filter_string = sel.filter_string()
    runs = client.search_runs(experiment_ids, filter_string, max_results=5000,
                              order_by=[f"metrics.{CHOOSE_BY} DESC", "attributes.start_time ASC"])
    parents = {run.data.tags.get("mlflow.parentRunId") for run in runs}
    runs = [run for run in runs if run.info.run_id not in parents and CHOOSE_BY in run.data.metrics]
    if not runs:
        raise RegistryError(f"no finished training run with {CHOOSE_BY} matched (filter: "
                            f"{filter_string}; a final fit has none: register it by run id); "
                            "nothing was registered")
    return runs


def register(client: MlflowClient, runs: list[Run], name: str, alias: str) -> Registered:
    """Register the best run's logged model as a new version of `name`, alias it, and tag it
    with why it was chosen. All or nothing: if any step fails, what it created is deleted."""
    best = runs[0]
    model_id = logged_model_id(best)
    if model_id is None:
        raise RegistryError(
            f"the best run by {CHOOSE_BY}, {best.info.run_name} ({best.info.run_id}), logged no "
            f"model (trained with tracking.log_model=false); nothing was registered")
    created_model = not _exists(client, name)
    version = None
    try:
        if created_model:
            client.create_registered_model(name, description="Best runs of mnist-lab, chosen "
                                                             f"by {CHOOSE_BY}")
        version = client.create_model_version(name, f"models:/{model_id}",
                                              run_id=best.info.run_id, model_id=model_id,
                                              tags=_why(best, len(runs)))
        client.set_registered_model_alias(name, alias, version.version)
    except MlflowException as exc:
        _undo(client, name, version, created_model)
        raise RegistryError(f"registering {name}@{alias} failed, nothing was kept: "
                            f"{exc.message}") from exc
    return Registered(name, version.version, alias, best)


def _why(run: Run, among: int) -> dict[str, str]:
    return {"chosen_by": CHOOSE_BY, CHOOSE_BY: str(run.data.metrics[CHOOSE_BY]),
            "among_runs": str(among), "run_name": run.info.run_name,
            "config_hash": run.data.tags.get("config_hash", "")}


def _undo(client: MlflowClient, name: str, version, created_model: bool) -> None:
    if created_model:
        client.delete_registered_model(name)  # and its versions
    elif version is not None:
        client.delete_model_version(name, version.version)


def _exists(client: MlflowClient, name: str) -> bool:
    try:
        client.get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        return False
    return True


def _get_run(client: MlflowClient, run_id: str) -> Run:
    try:
        return client.get_run(run_id)
    except MlflowException as exc:
        raise RegistryError(f"no run {run_id} at this tracking URI ({exc.error_code})") from exc


def resolve(client: MlflowClient, model: str) -> str:
    """`models:/<id>` of what to serve: a run id, `runs:/<id>`, `models:/<name>@<alias>`,
    `models:/<name>/<version>` or `models:/<model id>`; checked to exist, in one line if not."""
    if model.startswith("models:/"):
        ref = model.removeprefix("models:/")
        if ref.startswith("m-"):
            return _logged(client, ref)
        name, at, alias = ref.partition("@")
        name, slash, number = name.partition("/") if not at else (name, "", "")
        try:
            found = (client.get_model_version_by_alias(name, alias) if at
                     else client.get_model_version(name, number) if slash
                     else None)
        except MlflowException as exc:
            raise RegistryError(f"{model}: {_unknown(client, name)}") from exc
        if found is None:
            raise RegistryError(f"{model}: say which version, e.g. models:/{name}@champion")
        # The version's source is the logged model it was registered from (models:/m-...).
        model_id = found.model_id or found.source.removeprefix("models:/")
        return _logged(client, model_id) if model_id.startswith("m-") else model
    run_id = model.removeprefix("runs:/").split("/")[0]
    model_id = logged_model_id(_get_run(client, run_id))
    if model_id is None:
        raise RegistryError(f"run {run_id} logged no model (trained with "
                            "tracking.log_model=false): nothing to serve")
    return _logged(client, model_id)


def _unknown(client: MlflowClient, name: str) -> str:
    """What exists instead, for the error message."""
    if not _exists(client, name):
        known = ", ".join(sorted(m.name for m in client.search_registered_models()))
        return f"no registered model {name!r} (registered: {known or 'none'})"
    registered = client.get_registered_model(name)
    aliases = ", ".join(f"@{alias}" for alias in sorted(registered.aliases)) or "none"
    latest = max((int(v.version) for v in client.search_model_versions(f"name = '{name}'")),
                 default=None)
    return f"no such alias or version of {name!r} (aliases: {aliases}; latest version: {latest})"


def _logged(client: MlflowClient, model_id: str) -> str:
    try:
        client.get_logged_model(model_id)
    except MlflowException as exc:
        raise RegistryError(f"no logged model {model_id} at this tracking URI") from exc
    return f"models:/{model_id}"
