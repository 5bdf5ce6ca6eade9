"""Datasets from the config: real IDX files (lookup, checksums, the notebooks' splits),
scikit-learn's digits, a CIFAR-10 archive, your own .npz or image folder; shape, classes and
sizes read from the data; bad data named in one line."""

import gzip
import shutil
import tarfile
from pathlib import Path

import keras
import numpy as np
import pytest

from src import data
from src.choices import Split
from src.config import ConfigError, DatasetConfig
from src.data import DataError
from tests import datasets
from tests.conftest import data_dir, needs_data
from tests.datasets import CIFAR_CLASSES, write_cifar_archive, write_image_folder, write_npz


def dataset(compose, name: str, *overrides: str) -> DatasetConfig:
    """`dataset=<name>` as composed from conf/dataset/, with the data dir of the tests."""
    return compose(f"dataset={name}", *overrides, f"dataset.data_dir={data_dir()}").dataset


@pytest.fixture
def data_copy(tmp_path) -> Path:
    """A writable copy of the MNIST files, to damage."""
    shutil.copytree(Path(data_dir()) / "mnist", tmp_path / "mnist")
    return tmp_path


@needs_data
def test_mnist_notebook_split_holds_out_the_last_10000(compose):
    cfg = dataset(compose, "mnist")
    arrays = data.loader(cfg).load()
    splits = data.load(cfg)
    assert (len(splits.x_train), len(splits.x_val), len(splits.x_test)) == (50000, 10000, 10000)
    np.testing.assert_array_equal(splits.y_val, arrays.y_train[-10000:])
    np.testing.assert_array_equal(splits.x_val[:, :, :, 0] * 255, arrays.x_train[-10000:])


@needs_data
def test_homework_split_is_a_seeded_random_80_20(compose):
    cfg = dataset(compose, "fashion_mnist")
    first, again = data.load(cfg), data.load(cfg)
    assert (len(first.y_train), len(first.y_val)) == (48000, 12000)
    np.testing.assert_array_equal(first.y_val, again.y_val)
    assert not np.array_equal(first.y_val, data.loader(cfg).load().y_train[-12000:])
    assert first.class_names[9] == "Ankle boot"


@needs_data
def test_images_are_scaled_to_unit_range_with_a_channel_axis(compose):
    splits = data.load(dataset(compose, "mnist", "dataset.train_limit=100"))
    assert splits.x_train.shape == (100, 28, 28, 1) and splits.x_train.dtype == np.float32
    assert splits.x_test.min() == 0.0 and splits.x_test.max() == 1.0


@needs_data
def test_idx_files_describe_themselves_from_their_headers(compose):
    info = data.describe(dataset(compose, "fashion_mnist"))
    assert (info.input_shape, info.num_classes, info.n_train, info.n_test) == (
        (28, 28, 1), 10, 60000, 10000)


def test_digits_come_from_scikit_learn_with_a_fixed_stratified_test_split(compose):
    cfg = compose("dataset=digits").dataset
    info = data.describe(cfg)
    assert (info.input_shape, info.class_names, info.n_train, info.n_test) == (
        (8, 8, 1), tuple(str(d) for d in range(10)), 1437, 360)
    first, again = data.load(cfg), data.load(cfg)
    assert (len(first.y_train), len(first.y_val), len(first.y_test)) == (1149, 288, 360)
    np.testing.assert_array_equal(first.x_test, again.x_test)
    assert sorted(np.bincount(first.y_test)) == [35] * 2 + [36] * 6 + [37] * 2  # stratified
    assert first.x_train.min() == 0.0 and first.x_train.max() == 1.0


def test_a_cifar_archive_is_read_channels_last_with_its_class_names(compose, tmp_path):
    sha = write_cifar_archive(tmp_path / "cifar10", per_batch=8, test=12)
    cfg = compose("dataset=cifar10", f"dataset.data_dir={tmp_path}",
                  f"dataset.loader.sha256={sha}", "dataset.val_size=10").dataset
    info = data.describe(cfg)
    assert (info.input_shape, info.class_names, info.n_train, info.n_test) == (
        (32, 32, 3), tuple(CIFAR_CLASSES), 40, 12)
    arrays = data.loader(cfg).load()
    with tarfile.open(tmp_path / "cifar10" / "cifar-10-python.tar.gz") as archive:
        import pickle

        first = pickle.load(archive.extractfile("cifar-10-batches-py/data_batch_1"),
                            encoding="bytes")
    row = first[b"data"][0]  # 1,024 red values, then green, then blue
    np.testing.assert_array_equal(arrays.x_train[0, 0, :3, 0], row[:3])
    np.testing.assert_array_equal(arrays.x_train[0, 0, 0], row[[0, 1024, 2048]])
    assert data.load(cfg).x_train.shape == (30, 32, 32, 3)


def test_a_cifar_archive_that_is_not_the_official_one_is_refused(compose, tmp_path):
    write_cifar_archive(tmp_path / "cifar10", per_batch=2, test=2)
    cfg = compose("dataset=cifar10", f"dataset.data_dir={tmp_path}").dataset
    with pytest.raises(DataError, match=r"cifar-10-python\.tar\.gz: SHA-256 is .*, expected "
                                        r"6d958be0.*replace it with the official archive"):
        data.describe(cfg)
    archive = tmp_path / "cifar10" / "cifar-10-python.tar.gz"
    archive.write_bytes(archive.read_bytes()[:300])
    truncated = compose("dataset=cifar10", f"dataset.data_dir={tmp_path}",
                        "dataset.loader.sha256=null").dataset
    with pytest.raises(DataError, match=r"cifar-10-python\.tar\.gz: not a readable CIFAR python "
                                        r"archive"):
        data.describe(truncated)


def test_your_own_npz_gives_its_shape_classes_and_names(compose, tmp_path):
    path = write_npz(tmp_path / "shapes.npz", class_names=np.array(["a", "b", "c"]))
    cfg = compose("dataset=npz", f"dataset.loader.path={path}").dataset
    info = data.describe(cfg)
    assert (info.input_shape, info.class_names, info.n_train, info.n_test) == (
        (12, 12, 3), ("a", "b", "c"), 90, 30)
    assert data.load(cfg).x_val.shape == (9, 12, 12, 3)


def test_your_own_image_folder_is_read_with_its_sub_folders_as_classes(compose, tmp_path):
    root = write_image_folder(tmp_path / "shapes", per_class=10, size=(16, 12))
    cfg = compose("dataset=folder", f"dataset.loader.path={root}").dataset
    info = data.describe(cfg)
    assert (info.input_shape, info.class_names, info.n_train, info.n_test) == (
        (12, 16, 3), ("circle", "square"), 16, 4)
    splits = data.load(cfg)
    assert splits.x_train.shape[1:] == (12, 16, 3) and sorted(np.bincount(splits.y_test)) == [2, 2]
    assert splits.x_train.dtype == np.float32 and splits.x_train.max() <= 1.0


def bad_folder(tmp_path: Path, damage: str) -> Path:
    root = tmp_path / "images"
    if damage == "empty":
        root.mkdir()
    elif damage == "one class":
        write_image_folder(root, classes=("only",))
    else:
        write_image_folder(root)
        write_image_folder(root, classes=("square",), per_class=1, size=(20, 20))
    return root


def bad_npz(tmp_path: Path, damage: str) -> Path:
    path = tmp_path / "mine.npz"
    if damage == "missing keys":
        np.savez(path, x_train=np.zeros((4, 8, 8), np.uint8))
    elif damage == "corrupt":
        path.write_bytes(write_npz(path).read_bytes()[:200])
    else:
        write_npz(path, classes=1)
    return path


@pytest.mark.parametrize(("kind", "damage", "message"), [
    ("folder", "empty", r"images: .*holds no class sub-folders with images"),
    ("folder", "one class", r"one class \(only\); a classifier needs two or more"),
    ("folder", "mixed sizes", r"images of mixed sizes \(.* is 16x16, .* 20x20\); resize them, or "
                              r"set dataset\.loader\.image_size"),
    ("npz", "missing keys", r"mine\.npz: no y_train, x_test, y_test in it"),
    ("npz", "corrupt", r"mine\.npz: not a readable \.npz"),
    ("npz", "one class", r"the training set holds a single class"),
])
def test_bad_data_of_your_own_is_named_in_one_line(compose, tmp_path, kind, damage, message):
    path = (bad_folder if kind == "folder" else bad_npz)(tmp_path, damage)
    cfg = compose(f"dataset={kind}", f"dataset.loader.path={path}").dataset
    with pytest.raises(DataError, match=message) as err:
        data.describe(cfg)
    assert "\n" not in str(err.value)


@needs_data
def test_corrupt_file_fails_naming_the_file(compose, data_copy):
    labels = data_copy / "mnist" / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(labels.read_bytes()))
    raw[100] = (raw[100] + 1) % 10  # one flipped label: valid gzip, wrong content
    labels.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz.*SHA-256"):
        data.load(compose("dataset=mnist", f"dataset.data_dir={data_copy}").dataset)


@needs_data
def test_truncated_file_fails_naming_the_file(compose, data_copy):
    images = data_copy / "mnist" / "train-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[:100_000])
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz"):
        data.load(compose("dataset=mnist", f"dataset.data_dir={data_copy}").dataset)


@needs_data
def test_incomplete_folder_lists_the_missing_files(compose, data_copy):
    (data_copy / "mnist" / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DataError, match="missing: .*t10k-images-idx3-ubyte.gz"):
        data.describe(compose("dataset=mnist", f"dataset.data_dir={data_copy}").dataset)


def test_no_data_offline_says_where_it_looked_and_what_to_set(compose, tmp_path, monkeypatch):
    def offline():
        raise OSError("network unreachable")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    monkeypatch.setattr(data, "SYSTEM_DATA_DIR", tmp_path / "system")
    cfg = compose("dataset=mnist", f"dataset.data_dir={tmp_path / 'empty'}").dataset
    with pytest.raises(DataError) as err:
        data.describe(cfg)
    message = str(err.value)
    assert str(tmp_path / "empty" / "mnist") in message and str(tmp_path / "system") in message
    assert "DATA_DIR" in message and "network unreachable" in message


def test_a_split_larger_than_the_data_is_refused_against_its_own_size(compose):
    with pytest.raises(ConfigError, match=r"^dataset\.val_size=2000\.0 is invalid: .* in "
                                            r"\[1, 1437\)"):
        data.describe(compose("dataset=digits", "dataset.val_size=2000").dataset)
    assert data.describe(compose("dataset=digits", "dataset.split=last",
                                 "dataset.val_size=200").dataset).n_train == 1437


def test_split_is_the_same_code_for_every_loader(compose, tmp_path):
    path = write_npz(tmp_path / "mine.npz", n_train=100)
    last = compose("dataset=npz", f"dataset.loader.path={path}", "dataset.split=last",
                   "dataset.val_size=20").dataset
    splits = data.load(last)
    np.testing.assert_array_equal(splits.y_val, np.load(path)["y_train"][-20:])
    assert Split.random == compose("dataset=npz", f"dataset.loader.path={path}").dataset.split


def test_a_worker_reads_an_idx_file_once_and_a_replaced_file_again(tmp_path):
    from src.data import idx

    checksums = datasets.write_idx_release(tmp_path / "one")
    labels = tmp_path / "one" / "t10k-labels-idx1-ubyte.gz"
    first = idx.read_idx(labels, checksums["t10k-labels-idx1-ubyte"])
    assert idx.read_idx(labels, checksums["t10k-labels-idx1-ubyte"]) is first  # cached
    assert not first.flags.writeable  # so no job can change what the next one reads
    datasets.write_idx_release(tmp_path / "other", seed=5)  # other labels, same size
    shutil.copy(tmp_path / "other" / labels.name, labels)
    with pytest.raises(DataError, match="SHA-256"):  # read and checked again, not cached
        idx.read_idx(labels, checksums["t10k-labels-idx1-ubyte"])
