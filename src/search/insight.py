"""What mattered in a study: each searched parameter's importance and the plots researchers read
in optuna-dashboard, on the study's parent run and from the command line.

    python -m src.search multirun/3f9c0a1b2d4e      # a study's sweep dir, during or after it

Importances are Optuna's fANOVA evaluator's (Hutter et al. 2014, "An Efficient Approach for
Assessing Hyperparameter Importance"): the share of the objective's variance, over the trials
complete, that each parameter explains on its own; seeded, so a relaunch with the same trials
records the same numbers. The figures are Optuna's matplotlib visualizations.
"""

import json
import statistics
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import optuna
from mlflow import MlflowClient
from mlflow.entities import Metric

from src.search.space import STUDY, storage_file
from src.search.study import OBJECTIVE

FOLDER = "study"  # the parent run's artifact folder for the figures and importances.json
METRIC = "importance."  # + the parameter: a metric per parameter, stepped by trials complete
PLOTS = {
    "optimization_history.png": "plot_optimization_history",
    "parallel_coordinate.png": "plot_parallel_coordinate",
    "slice.png": "plot_slice",
    "param_importances.png": "plot_param_importances",
}


@dataclass
class Insight:
    complete: int  # trials complete, the ones everything here is read from
    pruned: int
    best_value: float
    best_trial: int
    best_params: dict
    importances: dict[str, float]  # most important first; empty under 2 trials complete
    best_per_seed: tuple = ()  # the best trial's seeds' values, with seeds_per_trial > 1

    def lines(self) -> list[str]:
        seeds = (f" ± {statistics.stdev(self.best_per_seed):.4f} over "
                 f"{len(self.best_per_seed)} seeds" if len(self.best_per_seed) > 1 else "")
        out = [f"{self.complete} trials complete, {self.pruned} pruned; best value "
               f"{self.best_value:.4f}{seeds} (trial {self.best_trial}): {self.best_params}"]
        if self.importances:
            out.append("importance (fANOVA, share of the objective's variance):")
            out += [f"  {name:<28} {share:6.3f}" for name, share in self.importances.items()]
        else:
            out.append("importance: needs 2 trials complete")
        return out


def evaluator() -> optuna.importance.FanovaImportanceEvaluator:
    return optuna.importance.FanovaImportanceEvaluator(seed=0)


def insight(study: optuna.Study) -> Optional[Insight]:
    """The study read so far; None before its first trial completes."""
    states = optuna.trial.TrialState
    complete = study.get_trials(deepcopy=False, states=(states.COMPLETE,))
    if not complete:
        return None
    pruned = study.get_trials(deepcopy=False, states=(states.PRUNED,))
    importances = optuna.importance.get_param_importances(study, evaluator=evaluator()) \
        if len(complete) >= 2 else {}
    best = study.best_trial
    return Insight(len(complete), len(pruned), best.value, best.number, best.params,
                   dict(importances), tuple(best.user_attrs.get("val_accuracy_per_seed", ())))


def draw(study: optuna.Study, folder: Path) -> list[Path]:
    """The figures as PNGs in `folder`; the importance plot only where there are importances."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as plots

    written = []
    complete = len(study.get_trials(deepcopy=False,
                                    states=(optuna.trial.TrialState.COMPLETE,)))
    for name, function in PLOTS.items():
        if function == "plot_param_importances" and complete < 2:
            continue
        with warnings.catch_warnings():  # "experimental": the API, not the figure
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            kwargs = {"evaluator": evaluator()} if function == "plot_param_importances" else {}
            axes = getattr(plots, function)(study, target_name=OBJECTIVE, **kwargs)
        figure = (axes.flat[0] if hasattr(axes, "flat") else axes).get_figure()
        figure.set_size_inches(max(figure.get_size_inches()[0], 8), 5)
        figure.savefig(folder / name, dpi=100, bbox_inches="tight")
        plt.close(figure)
        written.append(folder / name)
    return written


def record(client: MlflowClient, parent_run_id: str, study: optuna.Study) -> None:
    """The importances as metrics (step: trials complete, once per count) and in
    `study/importances.json`, with the figures, on the parent run."""
    found = insight(study)
    if found is None:
        return
    logged = {point.step for point in client.get_metric_history(
        parent_run_id, METRIC + next(iter(found.importances), "none"))}
    if found.importances and found.complete not in logged:
        stamp = int(time.time() * 1000)
        client.log_batch(parent_run_id, metrics=[
            Metric(METRIC + name, share, stamp, found.complete)
            for name, share in found.importances.items()])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        draw(study, folder)
        (folder / "importances.json").write_text(json.dumps(
            {"trials_complete": found.complete, "evaluator": "fanova",
             "importances": found.importances}, indent=1))
        client.log_artifacts(parent_run_id, tmp, FOLDER)


def load(sweep_dir: Path) -> optuna.Study:
    """The study in a sweep dir, read-only in spirit: nothing here writes to it."""
    storage = storage_file(sweep_dir)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.load_study(study_name=STUDY, storage=f"sqlite:///{storage}")
