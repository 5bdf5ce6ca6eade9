"""Your own arrays: one `.npz` holding `x_train, y_train, x_test, y_test` as Keras'
`load_data()` returns them (`np.savez(path, x_train=..., ...)`), optionally `class_names`.

Images are (N, H, W) or (N, H, W, C), uint8 in [0, 255] or floats in [0, 1]; labels are
integers 0..K-1. Shape and classes are read from the arrays.
"""

import hashlib
import zipfile
from pathlib import Path
from typing import Optional

import numpy as np

from src.data import Arrays, DataError

KEYS = ("x_train", "y_train", "x_test", "y_test")


class NpzFile:
    def __init__(self, path: str, class_names: Optional[list[str]] = None):
        self.path, self.class_names = Path(path).expanduser(), class_names
        self._arrays: Optional[Arrays] = None

    def load(self) -> Arrays:
        if self._arrays is None:
            self._arrays = self._read()
        return self._arrays

    def _read(self) -> Arrays:
        where = f"dataset.loader.path={self.path}"
        if not self.path.is_file():
            raise DataError(f"{where}: no such file; point it at an .npz holding "
                            f"{', '.join(KEYS)}")
        try:
            with np.load(self.path, allow_pickle=False) as npz:
                missing = [key for key in KEYS if key not in npz.files]
                if missing:
                    raise DataError(f"{where}: no {', '.join(missing)} in it (it holds "
                                    f"{', '.join(npz.files) or 'nothing'}); save the four "
                                    f"arrays {', '.join(KEYS)}")
                arrays = {key: npz[key] for key in KEYS}
                stored = [str(n) for n in npz["class_names"]] if "class_names" in npz else None
        except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
            raise DataError(f"{where}: not a readable .npz ({type(exc).__name__}: {exc}); "
                            "re-create it with numpy.savez") from exc
        labels = [arrays["y_train"], arrays["y_test"]]
        arrays.update(y_train=labels[0].reshape(-1), y_test=labels[1].reshape(-1))
        top = max(int(y.max()) for y in labels if y.size) if any(y.size for y in labels) else 0
        names = self.class_names or stored or [str(c) for c in range(top + 1)]
        digest = hashlib.sha256(self.path.read_bytes()).hexdigest()
        return Arrays(**arrays, class_names=[str(n) for n in names],
                      source=str(self.path.resolve()),
                      fingerprint={"train": {self.path.name: digest},
                                   "test": {self.path.name: digest}})
