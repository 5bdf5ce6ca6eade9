"""Entry point: compose -> skip if done -> data -> model -> fit -> evaluate -> log.

    python -m src.train                                  # the MNIST notebook's CNN
    python -m src.train -m reg=none,dropout,batchnorm    # its three-way comparison
"""

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import hydra
from omegaconf import DictConfig

from src.config import Config, register, to_typed

if TYPE_CHECKING:
    from src.relaunch import JobDir

register()
CONF_DIR = str(Path(__file__).resolve().parents[1] / "conf")  # absolute: works from any cwd


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="config")
def main(dict_cfg: DictConfig) -> float:
    """Train one configuration; returns the final validation accuracy for sweepers."""
    cfg = to_typed(dict_cfg)  # range checks, before anything slow is even imported
    from src import relaunch

    # The job dir is where an interrupted launch left a backup to resume.
    return run(cfg, relaunch.config_hash(dict_cfg), relaunch.JobDir.current())


def run(cfg: Config, key: str, job: "JobDir", callbacks: Sequence = ()) -> float:
    """The recipe for a checked config; `callbacks` let the benchmark time this very path."""
    # Imported here, not at the top: TensorFlow and MLflow take seconds to load, and `--help`
    # or a rejected config should answer without waiting for them.
    import keras

    from src import data, models, relaunch, tracking, trainer

    uri = tracking.tracking_uri(cfg.tracking)
    tracking.check_reachable(uri)
    if cfg.tracking.skip_finished and (done := relaunch.finished_run(uri, cfg.tracking, key)):
        print(f"{tracking.run_name(cfg)}: skipped, config {key} already FINISHED as run "
              f"{done.info.run_id} (tracking.skip_finished=false trains it again)")
        return done.data.metrics["val_accuracy"]

    with tracking.run(cfg, uri, key, job) as active:  # a job failing from here on shows FAILED
        splits = data.load(cfg.dataset)
        keras.utils.set_random_seed(cfg.seed)
        keras.mixed_precision.set_global_policy(cfg.trainer.precision.value)
        model = models.build(cfg.model, cfg.reg)
        tracking.log_params({
            **tracking.parameter_counts(model),
            "device": trainer.device(),
            "data.source": splits.source,
            "data.n_train": len(splits.y_train),
            "data.n_val": len(splits.y_val),
            "data.n_test": len(splits.y_test),
        })
        epochs = tracking.EpochMetrics(active.info.run_id, cfg.tracking.wait_for_server, job)
        trainer.fit(model, splits, cfg.trainer, cfg.optimizer, [epochs, *callbacks], job.backup)
        result = trainer.evaluate(model, splits, cfg.trainer.batch_size)
        tracking.log_results(model, splits, epochs.history, result, cfg.tracking)
    print(f"{tracking.run_name(cfg)}: test accuracy {result.test_accuracy:.4f}")
    return epochs.history["val_accuracy"][-1]


if __name__ == "__main__":
    main()
