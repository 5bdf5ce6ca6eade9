"""Look at a dataset before training anything:

    python -m src.preview dataset=fashion_mnist

Composes the same config as `src.train` (so `dataset.*` overrides and presets apply), and writes
the first 25 training and test images, labelled, into the Hydra output dir - the same figures
every training run logs to MLflow as plots/preview_*.png. No MLflow run is created.
"""

from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from src import console, data, errors, plots
from src.config import CONF_DIR, register, to_typed

console.quiet_by_default()
register()


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="config")
def main(dict_cfg: DictConfig) -> None:
    with errors.reported():
        splits = data.load(to_typed(dict_cfg).dataset)
    out = Path(HydraConfig.get().runtime.output_dir)
    for name, figure in plots.split_previews(splits).items():
        figure.savefig(out / name)
        plots.close(figure)
        print(out / name)


if __name__ == "__main__":
    main()
