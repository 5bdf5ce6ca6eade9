"""The Keras side of pruning (src.search.pruning): a callback in the trial's own process that
reports each epoch's validation accuracy to the study and stops the fit when the pruner says."""

from pathlib import Path
from typing import Any, Optional

import keras
import optuna
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from src.errors import StoppedEarly
from src.search import seeds
from src.search import study as studies
from src.search.pruning import OBJECTIVE, PRUNED_TAG, Pruned, make


class ReportToStudy(keras.callbacks.Callback):
    """Trial `number` of the study in `sweep_dir`, as Optuna's `Trial`: `report` each epoch,
    then `should_prune`. Place it after the callback that logs the epoch to MLflow, so a pruned
    trial's last epoch is in its run."""

    def __init__(self, sweep_dir: str, number: int, pruner: Any):
        super().__init__()
        study = optuna.load_study(study_name=studies.STUDY, pruner=pruner,
                                  storage=studies.storage(Path(sweep_dir)))
        # Optuna names a trial by its id in the storage; the sweeper knows it by its number.
        # FrozenTrial exposes the id only as `_trial_id`: there is no public lookup by number.
        [frozen] = [t for t in study.get_trials(deepcopy=False) if t.number == number]
        self.trial = optuna.trial.Trial(study, frozen._trial_id)
        self.pruned: Optional[Pruned] = None

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or OBJECTIVE not in logs:
            return
        self.trial.report(float(logs[OBJECTIVE]), step=epoch + 1)  # a repeated step is ignored
        if self.trial.should_prune():
            self.pruned = Pruned(epoch + 1, float(logs[OBJECTIVE]))
            self.model.stop_training = True


def reporter(seat: Optional[tuple[int, int]]) -> list:
    """The callback that reports a trial's epochs to its study, given this job's (trial, seed
    index): [] outside a study (None), in a study without a pruner of learning curves, and for
    a trial's seeds after its first (src.search.seeds)."""
    if seat is None or seat[1] != 0:
        return []
    hydra_cfg = HydraConfig.get()
    pruner = make(OmegaConf.select(hydra_cfg, "sweeper.pruner"))
    if pruner is None or seeds.per_seed(pruner):
        return []
    return [ReportToStudy(hydra_cfg.sweep.dir, seat[0], pruner)]


def stop_if_pruned(reporters: list, run_name: str) -> None:
    """After `fit`: a pruned trial's run ends here, KILLED and tagged with its last epoch,
    before the test set is read."""
    for reporter in reporters:
        if (pruned := reporter.pruned) is not None:
            raise StoppedEarly(f"{run_name}: pruned after epoch {pruned.epoch} ({OBJECTIVE} "
                               f"{pruned.value:.4f})", {PRUNED_TAG: str(pruned.epoch)}, pruned)
