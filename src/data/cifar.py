"""CIFAR-10 (and archives in its format) from the official python archive,
`cifar-10-python.tar.gz`: five pickled training batches, a test batch and `batches.meta` with the
class names, checked against the archive's published SHA-256 before anything is unpickled.

Lookup order: `<data dir>/cifar10/` (default `$DATA_DIR`), Debian's `/usr/share/datasets`,
then Keras' downloader, which fetches the same archive from the same address as
`keras.datasets.cifar10` and checks the same SHA-256.
"""

import hashlib
import pickle
import tarfile
from pathlib import Path
from typing import Optional

import numpy as np

from src.data import Arrays, DataError, DatasetInfo, candidate_dirs

ARCHIVE = "cifar-10-python.tar.gz"
ORIGIN = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"  # as Keras checks it
TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_archive(path: Path) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], list[str]]:
    """Each batch's images (N, 32, 32, 3) uint8 and labels, and the class names."""
    try:
        with tarfile.open(path, "r:gz") as archive:
            members = {Path(m.name).name: m for m in archive.getmembers() if m.isfile()}
            missing = [n for n in (*TRAIN_BATCHES, "test_batch", "batches.meta")
                       if n not in members]
            if missing:
                raise DataError(f"{path}: no {', '.join(missing)} in the archive; is it "
                                f"{ARCHIVE}?")

            def unpickle(name: str) -> dict:
                return pickle.load(archive.extractfile(members[name]), encoding="bytes")

            batches = {}
            for name in (*TRAIN_BATCHES, "test_batch"):
                batch = unpickle(name)
                images = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
                batches[name] = (images.transpose(0, 2, 3, 1), np.asarray(batch[b"labels"]))
            names = [n.decode() for n in unpickle("batches.meta")[b"label_names"]]
    except (tarfile.TarError, EOFError, OSError, pickle.UnpicklingError, KeyError,
            ValueError) as exc:
        raise DataError(f"{path}: not a readable CIFAR python archive ({type(exc).__name__}: "
                        f"{exc}); re-copy or delete it") from exc
    return batches, names


class CifarArchive:
    """The archive, located and checksummed; `sha256: null` skips the check (your own)."""

    def __init__(self, folder: str = "cifar10", sha256: Optional[str] = SHA256,
                 data_dir: Optional[str] = None):
        self.folder, self.sha256 = folder, sha256
        self.searched = [d / ARCHIVE for d in candidate_dirs(folder, data_dir)]
        self._arrays: Optional[Arrays] = None

    def archive(self) -> Path:
        found = next((path for path in self.searched if path.exists()), None)
        if found is None:
            found = self._download()
        if self.sha256 and (digest := sha256_of(found)) != self.sha256:
            raise DataError(f"{found}: SHA-256 is {digest}, expected {self.sha256}; the file is "
                            "truncated or corrupt - replace it with the official archive")
        return found

    def load(self) -> Arrays:
        if self._arrays is None:  # describe() reads it too: once per process
            path = self.archive()
            batches, names = read_archive(path)
            train = [batches[name] for name in TRAIN_BATCHES]
            x_test, y_test = batches["test_batch"]
            self._arrays = Arrays(
                np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train]),
                x_test, y_test, names, str(path),
                {"train": {ARCHIVE: self.sha256}, "test": {ARCHIVE: self.sha256}})
        return self._arrays

    def describe(self) -> DatasetInfo:
        return self.load().describe()

    def _download(self) -> Path:
        from src.console import quiet_startup

        looked = ", ".join(str(p) for p in self.searched)
        with quiet_startup():
            import keras

        try:
            return Path(keras.utils.get_file(ARCHIVE, ORIGIN, file_hash=self.sha256))
        except Exception as exc:  # whatever urllib raised: no archive here
            raise DataError(
                f"{ARCHIVE} not found. Looked in: {looked}; then tried Keras' download, which "
                f"failed ({type(exc).__name__}: {exc}). Set DATA_DIR (or dataset.data_dir=...) "
                f"to a folder holding {self.folder}/{ARCHIVE}.") from exc
