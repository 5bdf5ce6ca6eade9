"""Real IDX files: lookup, checksums, scaling and the notebooks' validation splits."""

import gzip
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest

from src import data
from src.config import DatasetConfig, Split
from tests.conftest import data_dir, needs_data


@pytest.fixture
def data_copy(tmp_path) -> Path:
    """A writable copy of the MNIST files, to damage."""
    shutil.copytree(Path(data_dir()) / "mnist", tmp_path / "mnist")
    return tmp_path


@needs_data
def test_mnist_notebook_split_holds_out_the_last_10000():
    arrays, _ = data.load_arrays("mnist", data_dir())
    splits = data.load(DatasetConfig(name="mnist", data_dir=data_dir()))
    assert (len(splits.x_train), len(splits.x_val), len(splits.x_test)) == (50000, 10000, 10000)
    np.testing.assert_array_equal(splits.y_val, arrays["y_train"][-10000:])
    np.testing.assert_array_equal(splits.x_val[:, :, :, 0] * 255, arrays["x_train"][-10000:])


@needs_data
def test_homework_split_is_a_seeded_random_80_20():
    cfg = DatasetConfig(name="fashion_mnist", data_dir=data_dir(), split=Split.random, val_size=0.2)
    first, again = data.load(cfg), data.load(cfg)
    assert (len(first.y_train), len(first.y_val)) == (48000, 12000)
    np.testing.assert_array_equal(first.y_val, again.y_val)
    arrays, _ = data.load_arrays("fashion_mnist", data_dir())
    assert not np.array_equal(first.y_val, arrays["y_train"][-12000:])
    assert first.class_names[9] == "Ankle boot"


@needs_data
def test_images_are_scaled_to_unit_range_with_a_channel_axis():
    splits = data.load(DatasetConfig(name="mnist", data_dir=data_dir(), train_limit=100))
    assert splits.x_train.shape == (100, 28, 28, 1) and splits.x_train.dtype == np.float32
    assert splits.x_test.min() == 0.0 and splits.x_test.max() == 1.0


@needs_data
def test_corrupt_file_fails_naming_the_file(data_copy):
    labels = data_copy / "mnist" / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(labels.read_bytes()))
    raw[100] = (raw[100] + 1) % 10  # one flipped label: valid gzip, wrong content
    labels.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(data.DataError, match="t10k-labels-idx1-ubyte.gz.*SHA-256"):
        data.load(DatasetConfig(name="mnist", data_dir=str(data_copy)))


@needs_data
def test_truncated_file_fails_naming_the_file(data_copy):
    images = data_copy / "mnist" / "train-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[:100_000])
    with pytest.raises(data.DataError, match="train-images-idx3-ubyte.gz"):
        data.load(DatasetConfig(name="mnist", data_dir=str(data_copy)))


@needs_data
def test_incomplete_folder_lists_the_missing_files(data_copy):
    (data_copy / "mnist" / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(data.DataError, match="missing: .*t10k-images-idx3-ubyte.gz"):
        data.load(DatasetConfig(name="mnist", data_dir=str(data_copy)))


def test_no_data_offline_says_where_it_looked_and_what_to_set(tmp_path, monkeypatch):
    def offline():
        raise OSError("network unreachable")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    monkeypatch.setattr(data, "SYSTEM_DATA_DIR", tmp_path / "system")
    with pytest.raises(data.DataError) as err:
        data.load(DatasetConfig(name="mnist", data_dir=str(tmp_path / "empty")))
    message = str(err.value)
    assert str(tmp_path / "empty" / "mnist") in message and str(tmp_path / "system") in message
    assert "DATA_DIR" in message and "network unreachable" in message
