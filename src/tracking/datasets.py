"""Train, validation and test as MLflow dataset inputs of a run: the UI's Dataset column and
filter, and a digest that tells two splits apart.

The digest is derived from the files' SHA-256 (verified by src.data before training, or by
Keras' downloader) and the split's definition, not from the arrays: hashing 60,000 images each
run would cost more, and the same files split the same way get the same digest anywhere.
"""

import hashlib
import json
from pathlib import Path

import mlflow
from mlflow.data.dataset_source import DatasetSource
from mlflow.data.http_dataset_source import HTTPDatasetSource
from mlflow.data.numpy_dataset import NumpyDataset
from mlflow.data.sources import LocalArtifactDatasetSource
from mlflow.exceptions import MlflowException

from src.config import DatasetConfig, Split
from src.data import FILES, SHA256, Splits

KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
CONTEXTS = {"train": "training", "val": "validation", "test": "test"}  # split -> MLflow context


def split_definition(cfg: DatasetConfig, split: str) -> dict:
    """What decides which images a split holds: the files, and for train/val how they are cut."""
    files = {stem: SHA256[cfg.name][stem] for stem in FILES.values()
             if stem.startswith("t10k") == (split == "test")}
    definition = {"dataset": cfg.name.value, "split": split, "files": files}
    if split != "test":
        definition.update(val_size=cfg.val_size, order=cfg.split.value,
                          split_seed=cfg.split_seed if cfg.split == Split.random else None)
    if split == "train":
        definition["train_limit"] = cfg.train_limit
    return definition


def split_digest(cfg: DatasetConfig, split: str) -> str:
    encoded = json.dumps(split_definition(cfg, split), sort_keys=True).encode()
    return hashlib.sha256(encoded).hexdigest()[:12]


def source(splits: Splits, cfg: DatasetConfig) -> DatasetSource:
    """The folder the IDX files were read from, else where Keras downloads them."""
    if Path(splits.source).is_dir():
        return LocalArtifactDatasetSource(str(Path(splits.source).resolve()))
    return HTTPDatasetSource(KERAS_ORIGIN + ("mnist.npz" if cfg.name.value == "mnist" else ""))


def datasets(splits: Splits, cfg: DatasetConfig) -> dict[str, NumpyDataset]:
    """Context (training, validation, test) -> the dataset MLflow records for it."""
    arrays = {"train": (splits.x_train, splits.y_train), "val": (splits.x_val, splits.y_val),
              "test": (splits.x_test, splits.y_test)}
    where = source(splits, cfg)
    return {
        CONTEXTS[split]: mlflow.data.from_numpy(
            images, targets=labels, source=where, name=f"{cfg.name.value}-{split}",
            digest=split_digest(cfg, split))
        for split, (images, labels) in arrays.items()
    }


def log_inputs(found: dict[str, NumpyDataset]) -> None:
    """Into the active run, each with its context, in one request (a resumed run logs the same
    ones again, which MLflow records once). MLflow's store looks a dataset up, then inserts it:
    jobs side by side logging the same split collide on the insert (a UNIQUE constraint), and
    the second try finds the row the other job wrote."""
    def log() -> None:
        mlflow.log_inputs(datasets=list(found.values()), contexts=list(found),
                          tags_list=[None] * len(found))

    try:
        log()
    except MlflowException:
        log()
