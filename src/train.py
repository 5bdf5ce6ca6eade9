"""Entry point: compose -> skip if done -> data -> model -> fit -> evaluate -> log.

    python -m src.train                                  # the MNIST notebook's CNN
    python -m src.train -m reg=none,dropout,batchnorm    # its three-way comparison

Before this runs, src.preflight has checked the config (every job's, for a sweep).
"""

import contextlib
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from src import console, errors
from src.config import CONF_DIR, Config, register, to_typed
from src.sweeps.lock import unlock_job

console.quiet_by_default()
console.quick_exit()
register()


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="config")
def main(dict_cfg: DictConfig) -> Any:
    """Train one configuration; returns the final validation accuracy for sweepers (None for a
    final fit, which has no validation split; `Pruned` for a trial a study's pruner stopped)."""
    hydra_cfg = HydraConfig.get()
    single = hydra_cfg.mode == RunMode.RUN
    # Bad input ends a single run with one line; in a sweep the job fails alone, Hydra reports it.
    job_dir = Path(hydra_cfg.runtime.output_dir)
    try:
        with errors.reported() if single else contextlib.nullcontext():
            return train_config(to_typed(dict_cfg), job_dir)
    except errors.StoppedEarly as stop:  # a study pruned it: the sweeper hears `result`
        print(stop)
        return stop.result
    finally:
        unlock_job(job_dir)  # a worker that goes on to other jobs holds this one no longer


def train_config(cfg: Config, job_dir: Path, callbacks: Sequence = ()) -> Optional[float]:
    """The recipe for a checked config; `callbacks` let the benchmark time this very path."""
    started = time.monotonic()
    # Imported here: MLflow and TensorFlow take seconds to load, and `--help`, a rejected config
    # or a finished config skipped on re-launch should not wait for them.
    with console.loading():
        from src import data
        from src.sweeps.lock import lock_job
        from src.tracking import identity, lifecycle, provenance, resume, store

    uri, name = store.tracking_uri(cfg.tracking.uri), provenance.run_name(cfg)
    lock_job(job_dir)  # one process per job dir: a second launch never trains it alongside
    in_sweep = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    # A single run fails fast on a dead server; a sweep's job waits for one that restarts.
    store.check_reachable(uri, patience=cfg.tracking.wait_for_server if in_sweep else 0)
    config_hash, job = identity.config_hash(cfg), resume.JobDir(job_dir)
    if cfg.tracking.skip_finished and (
        done := resume.finished_run(uri, cfg.tracking.experiment, config_hash)
    ):
        print(f"{name}: skipped, config {config_hash} already FINISHED as run "
              f"{done.info.run_id} (tracking.skip_finished=false trains it again)")
        return done.data.metrics.get("val_accuracy")
    splits = data.load(cfg.dataset)  # located and verified before any MLflow run exists

    with console.quiet_startup(), console.loading():
        import keras

        from src import devices, models, trainer
        from src.search import epoch_report
        from src.tracking import artifacts, datasets
        from src.tracking.epoch_metrics import EpochMetrics

    with console.quiet_startup(expected=(errors.BadInput,)):
        devices.share_gpus()  # before the first op: jobs sharing a GPU grow their memory
        models.check(cfg.model, cfg.reg, splits.info, cfg.dataset.name)  # builds, before any run
        device = devices.device()
        placement = devices.distribute(cfg.trainer, splits)  # 1 device unless data_parallel
    reports = epoch_report.reporter(provenance.trial_seat())  # a trial's epochs, to its pruner
    with lifecycle.training_run(cfg, uri, config_hash, job) as run_id:  # FAILED if anything raises
        keras.utils.set_random_seed(cfg.seed)
        keras.mixed_precision.set_global_policy(cfg.trainer.precision.value)
        model = models.build(cfg.model, cfg.reg, splits.info, cfg.dataset.name,
                             cfg.trainer.fused_batchnorm)
        wait = cfg.tracking.wait_for_server
        lifecycle.log_params({**models.parameter_counts(model), **data.split_sizes(splits),
                              "device": device, **placement, **models.kernels(model)}, wait)
        inputs = datasets.datasets(splits, cfg.dataset)
        datasets.log_inputs(inputs, wait)
        epochs = EpochMetrics(run_id, wait, job)
        timeline = trainer.Timeline(started)
        trainer.fit(model, splits, cfg, [timeline, epochs, *reports, *callbacks], job.backup,
                    name)
        epoch_report.stop_if_pruned(reports, name)  # the run ends KILLED: no test set read
        result = trainer.evaluate(model, splits, cfg.trainer.batch_size, cfg.trainer.tta)
        artifacts.log_results(model, splits, epochs.history, result, cfg.tracking,
                              inputs["test"])
        lifecycle.log_metrics(timeline.seconds(), wait)
    print(f"{name}: test accuracy {result.test_accuracy:.4f}")
    return epochs.history.get("val_accuracy", [None])[-1]


if __name__ == "__main__":
    main()
