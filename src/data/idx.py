"""Image sets published as IDX files (MNIST, Fashion-MNIST, and others in the same format such
as KMNIST): four gzipped files in a folder, checked against their published SHA-256.

    loader:
      _target_: src.data.idx.IdxFiles
      folder: mnist                  # <data dir>/mnist/train-images-idx3-ubyte.gz, ...
      sha256: {train-images-idx3-ubyte: ba89..., ...}   # of the uncompressed files
      class_names: ["0", "1", ...]
      download: mnist                # keras.datasets.mnist when no folder holds the files

Lookup order: the configured data dir (default `$DATA_DIR`), Debian's `/usr/share/datasets`,
then Keras' downloader (online machines only).
"""

import functools
import gzip
import hashlib
from pathlib import Path
from typing import Optional

import numpy as np

from src.data import Arrays, DataError, DatasetInfo, candidate_dirs

FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


def read_idx(path: Path, expected_sha256: str) -> np.ndarray:
    """Decompress, checksum and parse one IDX file, read-only. A sweep worker that trains
    several jobs reads each file once: the cache goes by the file's size and change time, so a
    replaced file is read and checked again."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc})") from exc
    return _read_idx(path, stat.st_size, stat.st_mtime_ns, expected_sha256)


@functools.lru_cache(maxsize=8)  # two datasets' four files; a corrupt file raises, never cached
def _read_idx(path: Path, size: int, mtime_ns: int, expected_sha256: str) -> np.ndarray:
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
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * raw[3]).reshape(_shape(raw))


def _shape(header: bytes) -> tuple[int, ...]:
    ndim = header[3]
    return tuple(int.from_bytes(header[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))


def read_shape(path: Path) -> tuple[int, ...]:
    """The array shape an IDX file's header declares, read without decompressing the rest."""
    try:
        with gzip.open(path) as file:
            header = file.read(4)
            header += file.read(4 * header[3])
        return _shape(header)
    except (OSError, EOFError, IndexError) as exc:
        raise DataError(f"{path}: not a readable gzip file ({exc}); re-copy or delete it") from exc


class IdxFiles:
    """One IDX release: where its files are, their checksums and its class names."""

    def __init__(self, folder: str, sha256: dict[str, str], class_names: list[str],
                 download: Optional[str] = None, data_dir: Optional[str] = None):
        self.folder, self.sha256, self.download = folder, sha256, download
        self.class_names = [str(name) for name in class_names]
        self.searched = candidate_dirs(folder, data_dir)

    def files(self) -> Optional[dict[str, Path]]:
        """The four files, from the first folder that holds any of them; None if none does."""
        for folder in self.searched:
            present = {key: folder / f"{stem}.gz" for key, stem in FILES.items()}
            if not any(path.exists() for path in present.values()):
                continue
            missing = [str(path) for path in present.values() if not path.exists()]
            if missing:
                raise DataError(f"{folder} holds only part of {self.folder}; missing: "
                                f"{', '.join(missing)}")
            return present
        return None

    def describe(self) -> DatasetInfo:
        files = self.files()
        if files is None:  # only a download can tell
            return self.load().describe()
        train, test = read_shape(files["x_train"]), read_shape(files["x_test"])
        return DatasetInfo((*train[1:], 1), tuple(self.class_names), train[0], test[0])

    def load(self) -> Arrays:
        files = self.files()
        fingerprint = {part: {stem: self.sha256[stem] for key, stem in FILES.items()
                              if key.endswith(part)} for part in ("train", "test")}
        if files is None:
            return Arrays(*self._download(), self.class_names,
                          f"keras.datasets.{self.download}", fingerprint)
        arrays = {key: read_idx(path, self.sha256[FILES[key]]) for key, path in files.items()}
        return Arrays(**arrays, class_names=self.class_names,
                      source=str(files["x_train"].parent), fingerprint=fingerprint)

    def _download(self) -> tuple[np.ndarray, ...]:
        from src.console import quiet_startup

        looked = ", ".join(str(p) for p in self.searched)
        what_to_do = (f"Set DATA_DIR (or dataset.data_dir=...) to a folder holding "
                      f"{self.folder}/ with the four IDX .gz files.")
        if not self.download:
            raise DataError(f"{self.folder} not found. Looked in: {looked}. {what_to_do}")
        with quiet_startup():  # deferred: only the online fallback needs Keras
            import keras

        try:
            (x_train, y_train), (x_test, y_test) = getattr(
                keras.datasets, self.download).load_data()
        except Exception as exc:  # Keras raises whatever urllib raised; all mean "no data here"
            raise DataError(
                f"{self.folder} not found. Looked in: {looked}; then tried Keras' download, "
                f"which failed ({type(exc).__name__}: {exc}). {what_to_do}") from exc
        return x_train, y_train, x_test, y_test
