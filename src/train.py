"""Entry point: compose -> data -> model -> fit -> evaluate -> log.

    python -m src.train                                  # the MNIST notebook's CNN
    python -m src.train -m reg=none,dropout,batchnorm    # its three-way comparison
"""

from collections.abc import Sequence
from pathlib import Path

import hydra
from omegaconf import DictConfig

from src.config import Config, register, to_typed

register()
CONF_DIR = str(Path(__file__).resolve().parents[1] / "conf")  # absolute: works from any cwd


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="config")
def main(dict_cfg: DictConfig) -> float:
    """Train one configuration; returns the final validation accuracy for sweepers."""
    return run(to_typed(dict_cfg))


def run(cfg: Config, callbacks: Sequence = ()) -> float:
    """The recipe for a checked config; `callbacks` let the benchmark time this very path."""
    # Imported here, not at the top: TensorFlow and MLflow take seconds to load, and `--help`
    # or a rejected config should answer without waiting for them.
    import keras

    from src import data, models, tracking, trainer

    uri = tracking.tracking_uri(cfg.tracking)
    tracking.check_reachable(uri)
    splits = data.load(cfg.dataset)

    keras.utils.set_random_seed(cfg.seed)
    keras.mixed_precision.set_global_policy(cfg.trainer.precision.value)
    model = models.build(cfg.model, cfg.reg)
    extra = {
        **tracking.parameter_counts(model),
        "device": trainer.device(),
        "data.source": splits.source,
        "data.n_train": len(splits.y_train),
        "data.n_val": len(splits.y_val),
        "data.n_test": len(splits.y_test),
    }
    with tracking.run(cfg, uri, extra):
        per_epoch = [tracking.EpochMetrics(), *callbacks]
        history = trainer.fit(model, splits, cfg.trainer, cfg.optimizer, per_epoch)
        result = trainer.evaluate(model, splits, cfg.trainer.batch_size)
        tracking.log_results(model, splits, history.history, result, cfg.tracking.log_model)
    print(f"{tracking.run_name(cfg)}: test accuracy {result.test_accuracy:.4f}")
    return history.history["val_accuracy"][-1]


if __name__ == "__main__":
    main()
