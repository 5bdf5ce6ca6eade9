"""Small datasets written in the real formats, for tests that run the real loading code: an
IDX release (MNIST's format), a CIFAR-10 python archive, an .npz of Keras-style arrays, and a
folder of class sub-folders.

A plain module (like tests/servers.py), shared by the data tests and the end-to-end runs.
"""

import gzip
import hashlib
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from src.data import idx

CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                 "ship", "truck"]


def images(n: int, shape: tuple, seed: int, classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images whose class shows in their mean brightness, so a model can learn it fast."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % classes
    rng.shuffle(labels)
    base = (labels * (200 // classes) + 20).astype(np.float32)
    noise = rng.normal(0, 12, (n, *shape))
    pixels = np.clip(base.reshape(-1, *[1] * len(shape)) + noise, 0, 255).astype(np.uint8)
    return pixels, labels


def write_idx_release(folder: Path, n_train: int = 4000, n_test: int = 500,
                      size: tuple = (28, 28), seed: int = 0) -> dict[str, str]:
    """The four gzipped IDX files of an MNIST-like release in `folder` (uint8 images, ten
    classes); returns the SHA-256 of each uncompressed file, keyed by its name without .gz."""
    folder.mkdir(parents=True, exist_ok=True)
    x_train, y_train = images(n_train, size, seed)
    x_test, y_test = images(n_test, size, seed + 1)
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    checksums = {}
    for key, stem in idx.FILES.items():
        array = arrays[key].astype(np.uint8)
        # IDX: two zero bytes, 0x08 for unsigned bytes, the number of dimensions, then each
        # dimension as a big-endian 32-bit integer, then the data.
        header = bytes([0, 0, 8, array.ndim]) + b"".join(
            n.to_bytes(4, "big") for n in array.shape)
        raw = header + array.tobytes()
        (folder / f"{stem}.gz").write_bytes(gzip.compress(raw, mtime=0))
        checksums[stem] = hashlib.sha256(raw).hexdigest()
    return checksums


def write_idx_dataset(root: Path, name: str = "synthetic") -> tuple[str, ...]:
    """A synthetic IDX release under `root/data` and its dataset config, `root/conf/dataset/
    <name>.yaml`, as a user adds their own: returns the overrides that train on it. 4,000
    training images (the last 500 validate) and 500 test images, 28x28x1, ten classes."""
    checksums = write_idx_release(root / "data" / name)
    dataset = {"name": name, "data_dir": str(root / "data"), "split": "last", "val_size": 500,
               "flippable": False,
               "loader": {"_target_": "src.data.idx.IdxFiles", "folder": name,
                          "class_names": [str(digit) for digit in range(10)],
                          "sha256": checksums}}
    (root / "conf" / "dataset").mkdir(parents=True, exist_ok=True)
    OmegaConf.save(dataset, root / "conf" / "dataset" / f"{name}.yaml")
    return f"hydra.searchpath=[file://{root / 'conf'}]", f"dataset={name}"


def write_cifar_archive(folder: Path, per_batch: int = 40, test: int = 60, seed: int = 0) -> str:
    """`folder/cifar-10-python.tar.gz` in the official layout (pickled batches of (N, 3072)
    uint8 rows, channel-first; `batches.meta` with the label names); returns its SHA-256."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "cifar-10-python.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        def add(name: str, content: dict) -> None:
            raw = pickle.dumps(content)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            archive.addfile(info, io.BytesIO(raw))

        for index, (name, n) in enumerate([*((f"data_batch_{i}", per_batch)
                                             for i in range(1, 6)), ("test_batch", test)]):
            pixels, labels = images(n, (32, 32, 3), seed + index)
            rows = pixels.transpose(0, 3, 1, 2).reshape(n, 3072)  # as the archive stores them
            add(name, {b"batch_label": name.encode(), b"labels": labels.tolist(),
                       b"data": rows, b"filenames": [b"x.png"] * n})
        add("batches.meta", {b"label_names": [c.encode() for c in CIFAR_CLASSES],
                             b"num_cases_per_batch": per_batch, b"num_vis": 3072})
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_npz(path: Path, shape: tuple = (12, 12, 3), n_train: int = 90, n_test: int = 30,
              classes: int = 3, **extra) -> Path:
    x_train, y_train = images(n_train, shape, 0, classes)
    x_test, y_test = images(n_test, shape, 1, classes)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test, **extra)
    return path


def write_image_folder(root: Path, classes: tuple = ("circle", "square"), per_class: int = 12,
                       size: tuple = (16, 16), mode: str = "RGB") -> Path:
    """`root/<class>/<i>.png`; each class its own brightness."""
    from PIL import Image

    for index, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        pixels, _ = images(per_class, (size[1], size[0], 3 if mode == "RGB" else 1), index, 1)
        for i, image in enumerate(pixels + np.uint8(60 * index)):
            Image.fromarray(image if mode == "RGB" else image[..., 0], mode).save(
                root / name / f"{i}.png")
    return root
