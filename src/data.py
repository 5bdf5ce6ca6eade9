"""MNIST and Fashion-MNIST from the standard IDX files, checksummed, scaled and split.

Lookup order: the configured data dir (default `$DATA_DIR`), Debian's `/usr/share/datasets`,
then Keras' downloader (online machines only). IDX files are verified against the published
SHA-256 of their uncompressed bytes so a truncated or tampered file fails before training.
"""

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from src.config import DatasetConfig, DatasetName, Split
from src.errors import BadInput

SYSTEM_DATA_DIR = Path("/usr/share/datasets")

FOLDERS = {DatasetName.mnist: "mnist", DatasetName.fashion_mnist: "fashion-mnist"}

CLASS_NAMES = {
    DatasetName.mnist: [str(d) for d in range(10)],
    DatasetName.fashion_mnist: [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ],
}

FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}

# SHA-256 of the uncompressed files, as published with the official releases.
SHA256 = {
    DatasetName.mnist: {
        "train-images-idx3-ubyte":
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte":
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte":
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte":
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    DatasetName.fashion_mnist: {
        "train-images-idx3-ubyte":
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte":
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte":
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte":
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}


class DataError(BadInput):
    """Data missing, truncated or corrupt: raised before any training starts."""


@dataclass
class Splits:
    x_train: np.ndarray  # float32, (N, 28, 28, 1), scaled to [0, 1]
    y_train: np.ndarray  # int labels, (N,)
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]
    source: str  # where the files came from, logged with the run


def read_idx(path: Path, expected_sha256: str) -> np.ndarray:
    """Decompress, checksum and parse one IDX file."""
    try:
        raw = gzip.decompress(path.read_bytes())
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: not a readable gzip file ({exc}); re-copy or delete it") from exc
    digest = hashlib.sha256(raw).hexdigest()
    if digest != expected_sha256:
        raise DataError(
            f"{path}: SHA-256 of the uncompressed data is {digest}, expected {expected_sha256}; "
            "the file is truncated or corrupt - replace it with the official release"
        )
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def candidate_dirs(name: str, data_dir: Optional[str]) -> list[Path]:
    """Folders that may hold the dataset's four files, in lookup order."""
    roots = [Path(data_dir)] if data_dir else []
    return [root / FOLDERS[name] for root in roots + [SYSTEM_DATA_DIR]]


def load_arrays(name: str, data_dir: Optional[str]) -> tuple[dict[str, np.ndarray], str]:
    """The raw uint8 arrays and a description of where they came from."""
    searched = candidate_dirs(name, data_dir)
    for folder in searched:
        present = {key: folder / f"{stem}.gz" for key, stem in FILES.items()}
        if not any(p.exists() for p in present.values()):
            continue
        missing = [str(p) for p in present.values() if not p.exists()]
        if missing:
            raise DataError(f"{folder} holds only part of {name}; missing: {', '.join(missing)}")
        sums = SHA256[name]
        return {key: read_idx(p, sums[FILES[key]]) for key, p in present.items()}, str(folder)
    return _download(name, searched), "keras.datasets download"


def _download(name: str, searched: list[Path]) -> dict[str, np.ndarray]:
    from src.console import quiet_startup

    with quiet_startup():  # deferred: only the online fallback needs Keras
        import keras

    try:
        (x_train, y_train), (x_test, y_test) = getattr(keras.datasets, name).load_data()
    except Exception as exc:  # Keras raises whatever urllib raised; all mean "no data here"
        looked = ", ".join(str(p) for p in searched)
        raise DataError(
            f"{name} not found. Looked in: {looked}; then tried Keras' download, which failed "
            f"({type(exc).__name__}: {exc}). Set DATA_DIR (or dataset.data_dir=...) to a folder "
            f"holding {FOLDERS[name]}/ with the four IDX .gz files."
        ) from exc
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def _scale(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) -> float32 (N, 28, 28, 1) in [0, 1]; the MLP flattens in the model."""
    return (images.astype("float32") / 255.0)[..., None]


def load(cfg: DatasetConfig) -> Splits:
    from sklearn.model_selection import train_test_split  # 1 s to import: only when splitting

    arrays, source = load_arrays(cfg.name, cfg.data_dir)
    val_size = int(cfg.val_size) if cfg.val_size >= 1 else cfg.val_size
    # shuffle=False makes train_test_split hold out the *last* val_size images.
    x_train, x_val, y_train, y_val = train_test_split(
        _scale(arrays["x_train"]),
        arrays["y_train"].astype("int64"),
        test_size=val_size,
        shuffle=cfg.split == Split.random,
        random_state=cfg.split_seed if cfg.split == Split.random else None,
    )
    if cfg.train_limit is not None:
        x_train, y_train = x_train[: cfg.train_limit], y_train[: cfg.train_limit]
    return Splits(
        x_train, y_train, x_val, y_val,
        _scale(arrays["x_test"]), arrays["y_test"].astype("int64"),
        CLASS_NAMES[cfg.name], source,
    )


def split_sizes(splits: Splits) -> dict[str, object]:
    """Where the data came from and how it was split, as run params."""
    return {"data.source": splits.source, "data.n_train": len(splits.y_train),
            "data.n_val": len(splits.y_val), "data.n_test": len(splits.y_test)}
