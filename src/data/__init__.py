"""Datasets as descriptions: a dataset config names its loader, and everything else - the
input shape, the classes, the sizes - comes from the data.

    dataset:
      name: cifar10
      loader: {_target_: src.data.cifar.CifarArchive, sha256: ...}   # its keyword arguments
      split: random        # the project cuts validation from the training set, for any loader
      val_size: 5000

A loader is a class or function, here (`idx`, `cifar`, `digits`, `arrays`, `folder`) or in
your own package, called with its YAML keys (and `data_dir` if it takes it). It returns
`Arrays`, or an object whose `load()` does and whose `describe()` says the same more cheaply
(the preflight and the sweep planner ask before anything loads). Loaders read; this module
checks what they return, scales it and splits it, the same way for every dataset.

Only NumPy here: scikit-learn's splitter and each loader's own imports come when used.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from src.choices import Split
from src.config import DatasetConfig, check_against_data
from src.errors import BadInput
from src.targets import call

SYSTEM_DATA_DIR = Path("/usr/share/datasets")


class DataError(BadInput):
    """Data missing, truncated, corrupt or unusable: raised before any training starts."""


@dataclass(frozen=True)
class DatasetInfo:
    """What every consumer of a dataset reads: models, plots, the logged model's signature,
    the sweep planner's cost and the range checks of the split."""

    input_shape: tuple[int, ...]  # one image, channels last: (28, 28, 1), (32, 32, 3)
    class_names: tuple[str, ...]  # label i is class_names[i]
    n_train: int  # images in the training set, before validation is cut from it
    n_test: int

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


@dataclass
class Arrays:
    """What a loader returns: images as (N, H, W) or (N, H, W, C), uint8 in [0, 255] or floats
    in [0, 1]; integer labels in [0, len(class_names))."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    source: str  # the folder, file or address it came from: logged with the run
    # What identifies the data, by part ("train", "test"): published checksums where there are
    # any. MLflow's dataset digests of the splits are computed from it.
    fingerprint: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> DatasetInfo:
        shape = self.x_train.shape[1:] + ((1,) if self.x_train.ndim == 3 else ())
        return DatasetInfo(tuple(int(d) for d in shape), tuple(self.class_names),
                           len(self.y_train), len(self.y_test))


@dataclass
class Splits:
    x_train: np.ndarray  # float32, (N, H, W, C), scaled to [0, 1]
    y_train: np.ndarray  # int labels, (N,)
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    source: str  # where the data came from, logged with the run
    fingerprint: dict[str, Any] = field(default_factory=dict)

    @property
    def info(self) -> DatasetInfo:
        return DatasetInfo(self.x_train.shape[1:], tuple(self.class_names),
                           len(self.y_train) + len(self.y_val), len(self.y_test))


class Loaded:
    """A loader that is a plain function: the arrays it returned, read once."""

    def __init__(self, arrays: Any, where: str):
        if isinstance(arrays, tuple) and len(arrays) == 2:  # Keras' load_data() shape
            (x_train, y_train), (x_test, y_test) = arrays
            classes = [str(c) for c in range(int(max(y_train.max(), y_test.max())) + 1)]
            arrays = Arrays(x_train, y_train, x_test, y_test, classes, where)
        if not isinstance(arrays, Arrays):
            raise DataError(f"{where} returned {type(arrays).__name__}: a loader returns "
                            "src.data.Arrays, ((x_train, y_train), (x_test, y_test)), or an "
                            "object with load() and describe()")
        self.arrays = arrays

    def load(self) -> Arrays:
        return self.arrays


_loaders: dict[str, Any] = {}  # one loader per dataset config and process: described once


def loader(cfg: DatasetConfig) -> Any:
    """The dataset's loader, made from `dataset.loader` (its `_target_` and keyword args)."""
    key = repr((cfg.loader, cfg.data_dir))
    if key not in _loaders:
        where = f"dataset.loader ({cfg.loader.get('_target_')})"
        made = call(cfg.loader, "dataset.loader", {}, optional={"data_dir": cfg.data_dir})
        _loaders[key] = made if hasattr(made, "load") else Loaded(made, where)
    return _loaders[key]


def describe(cfg: DatasetConfig) -> DatasetInfo:
    """Shape, classes and sizes, without reading every image where the loader can; the split
    settings are checked against them (`val_size` below the training images, and so on)."""
    found = loader(cfg)
    # A function's arrays (Loaded) are checked as loaded; a loader's own describe() is cheaper.
    by_loading = isinstance(found, Loaded) or not hasattr(found, "describe")
    info = checked(found.load(), cfg).describe() if by_loading else found.describe()
    check_against_data(cfg, info.n_train)
    return info


def checked(arrays: Arrays, cfg: DatasetConfig) -> Arrays:
    """The loader's arrays, refused in one line when no model could train on them."""
    where = f"dataset {cfg.name} ({arrays.source})"
    for part in ("train", "test"):
        x, y = getattr(arrays, f"x_{part}"), np.asarray(getattr(arrays, f"y_{part}"))
        if x.ndim not in (3, 4) or len(x) == 0:
            raise DataError(f"{where}: x_{part} has shape {x.shape}; images are (N, height, "
                            "width) or (N, height, width, channels) with N >= 1")
        if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer):
            raise DataError(f"{where}: y_{part} must be {len(x)} integer labels, one per image "
                            f"(it is {y.dtype} of shape {y.shape})")
        if y.min() < 0 or y.max() >= len(arrays.class_names):
            raise DataError(f"{where}: y_{part} holds labels outside 0..."
                            f"{len(arrays.class_names) - 1} (one per class name)")
    if arrays.x_test.shape[1:] != arrays.x_train.shape[1:]:
        raise DataError(f"{where}: test images are {arrays.x_test.shape[1:]}, training images "
                        f"{arrays.x_train.shape[1:]}: both parts need one shape")
    if len(set(np.unique(arrays.y_train))) < 2:
        raise DataError(f"{where}: the training set holds a single class; a classifier needs "
                        "two or more")
    return arrays


def to_unit(images: np.ndarray) -> np.ndarray:
    """float32 in [0, 1] with a channel axis: uint8 divided by 255, floats as they are."""
    if images.dtype == np.uint8:
        scaled = images.astype("float32") / 255.0
    else:
        scaled = images.astype("float32")
        if scaled.min() < 0 or scaled.max() > 1:
            raise DataError(f"images of dtype {images.dtype} range over [{scaled.min():g}, "
                            f"{scaled.max():g}]: give uint8 in [0, 255] or floats in [0, 1]")
    return scaled[..., None] if scaled.ndim == 3 else scaled


def load(cfg: DatasetConfig) -> Splits:
    """The dataset located, verified, scaled, and split as `dataset.split` says; with
    `dataset.final_fit`, every training image trains and the validation split is empty."""
    arrays = checked(loader(cfg).load(), cfg)
    check_against_data(cfg, len(arrays.y_train))
    images, labels = to_unit(arrays.x_train), np.asarray(arrays.y_train).astype("int64")
    if cfg.final_fit:
        x_train, x_val, y_train, y_val = images, images[:0], labels, labels[:0]
    else:
        x_train, x_val, y_train, y_val = validation_split(images, labels, cfg)
    if cfg.train_limit is not None:
        x_train, y_train = x_train[: cfg.train_limit], y_train[: cfg.train_limit]
    return Splits(
        x_train, y_train, x_val, y_val,
        to_unit(arrays.x_test), np.asarray(arrays.y_test).astype("int64"),
        list(arrays.class_names), arrays.source, arrays.fingerprint,
    )


def validation_split(images: np.ndarray, labels: np.ndarray, cfg: DatasetConfig) -> list:
    """x_train, x_val, y_train, y_val: `val_size` images held out, at random or the last."""
    from sklearn.model_selection import train_test_split  # 1 s to import: only when splitting

    val_size = int(cfg.val_size) if cfg.val_size >= 1 else cfg.val_size
    # shuffle=False makes train_test_split hold out the *last* val_size images.
    return train_test_split(
        images, labels, test_size=val_size, shuffle=cfg.split == Split.random,
        random_state=cfg.split_seed if cfg.split == Split.random else None)


def split_sizes(splits: Splits) -> dict[str, object]:
    """Where the data came from and how it was split, as run params."""
    return {"data.source": splits.source, "data.n_train": len(splits.y_train),
            "data.n_val": len(splits.y_val), "data.n_test": len(splits.y_test)}


def holdout(x: np.ndarray, y: np.ndarray, fraction: float, seed: int) -> tuple:
    """A stratified, seeded test split for datasets published without one:
    ((x_train, y_train), (x_test, y_test))."""
    from sklearn.model_selection import train_test_split

    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=fraction, stratify=y, random_state=seed)
    return (x_train, y_train), (x_test, y_test)


def candidate_dirs(folder: str, data_dir: Optional[str]) -> list[Path]:
    """Where a dataset's `folder` may be, in lookup order: under the configured data dir
    (default `$DATA_DIR`), then under Debian's `/usr/share/datasets`."""
    roots = [Path(data_dir)] if data_dir else []
    return [root / folder for root in [*roots, SYSTEM_DATA_DIR]]
