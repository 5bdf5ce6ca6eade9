"""Train, validation and test as MLflow dataset inputs of a run: the UI's Dataset column and
filter, and a digest that tells two splits apart.

The digest is derived from the data's fingerprint (the files' published SHA-256, verified by
src.data before training, or the loader's own digest of what it read) and the split's
definition, not from the arrays: hashing 60,000 images each run would cost more, and the same
files split the same way get the same digest anywhere.
"""

import hashlib
import json
from pathlib import Path

import mlflow
from mlflow.data.code_dataset_source import CodeDatasetSource
from mlflow.data.dataset_source import DatasetSource
from mlflow.data.http_dataset_source import HTTPDatasetSource
from mlflow.data.numpy_dataset import NumpyDataset
from mlflow.data.sources import LocalArtifactDatasetSource
from mlflow.exceptions import MlflowException

from src.choices import Split
from src.config import DatasetConfig
from src.data import Splits
from src.tracking import faults

CONTEXTS = {"train": "training", "val": "validation", "test": "test"}  # split -> MLflow context


def split_definition(fingerprint: dict, cfg: DatasetConfig, split: str) -> dict:
    """What decides which images a split holds: the data (its loader's `fingerprint` of each
    part), and for train/val how it is cut."""
    files = fingerprint.get("test" if split == "test" else "train", {})
    definition = {"dataset": cfg.name, "split": split, "files": files}
    if split != "test" and cfg.final_fit:  # every training image, none held out
        definition["final_fit"] = True
    elif split != "test":
        definition.update(val_size=cfg.val_size, order=cfg.split.value,
                          split_seed=cfg.split_seed if cfg.split == Split.random else None)
    if split == "train":
        definition["train_limit"] = cfg.train_limit
    return definition


def split_digest(fingerprint: dict, cfg: DatasetConfig, split: str) -> str:
    encoded = json.dumps(split_definition(fingerprint, cfg, split), sort_keys=True).encode()
    return hashlib.sha256(encoded).hexdigest()[:12]


def source(splits: Splits) -> DatasetSource:
    """The folder or file the data was read from, the address it came from, or the code that
    made it (`keras.datasets.mnist`, `sklearn.datasets.load_digits`)."""
    if Path(splits.source).exists():
        return LocalArtifactDatasetSource(str(Path(splits.source).resolve()))
    if splits.source.startswith(("http://", "https://")):
        return HTTPDatasetSource(splits.source)
    return CodeDatasetSource(tags={"loader": splits.source})


def datasets(splits: Splits, cfg: DatasetConfig) -> dict[str, NumpyDataset]:
    """Context (training, validation, test) -> the dataset MLflow records for it; a final fit
    has no validation split to record."""
    arrays = {"train": (splits.x_train, splits.y_train), "val": (splits.x_val, splits.y_val),
              "test": (splits.x_test, splits.y_test)}
    if not len(splits.y_val):
        del arrays["val"]
    where = source(splits)
    return {
        CONTEXTS[split]: mlflow.data.from_numpy(
            images, targets=labels, source=where, name=f"{cfg.name}-{split}",
            digest=split_digest(splits.fingerprint, cfg, split))
        for split, (images, labels) in arrays.items()
    }


def log_inputs(found: dict[str, NumpyDataset], wait: float = 0.0) -> None:
    """Into the active run, each with its context, in one request (a resumed run logs the same
    ones again, which MLflow records once). MLflow's store looks a dataset up, then inserts it:
    jobs side by side logging the same split collide on the insert (a UNIQUE constraint), and
    the second try finds the row the other job wrote. Waits up to `wait` s for a store that
    is unreachable."""
    def log() -> None:
        mlflow.log_inputs(datasets=list(found.values()), contexts=list(found),
                          tags_list=[None] * len(found))

    def log_twice() -> None:
        try:
            log()
        except MlflowException:
            log()

    faults.patiently(log_twice, wait)
