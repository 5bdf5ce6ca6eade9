"""Your own images: a folder with one sub-folder of images per class, read with Keras'
`image_dataset_from_directory` (PNG, JPEG, BMP, GIF).

    <path>/cat/001.png, <path>/dog/001.png, ...          # test_fraction of it held out
    <path>/train/cat/..., <path>/test/cat/...            # or a test split of your own

Class names are the sub-folders' names, in sorted order. Every image must have one size (or
set `image_size: [height, width]` to resize them all); any colour image makes all three-channel.
"""

import hashlib
from pathlib import Path
from typing import Optional

import numpy as np

from src.data import Arrays, DataError, DatasetInfo, holdout

EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif"}


class ImageFolder:
    def __init__(self, path: str, test_fraction: float = 0.2, seed: int = 0,
                 image_size: Optional[list[int]] = None):
        self.path = Path(path).expanduser()
        self.test_fraction, self.seed = test_fraction, seed
        self.image_size = tuple(image_size) if image_size else None
        self._arrays: Optional[Arrays] = None

    def parts(self) -> dict[str, Path]:
        """`train` and `test` folders of their own, or the whole folder as `all`."""
        if (self.path / "train").is_dir() and (self.path / "test").is_dir():
            return {"train": self.path / "train", "test": self.path / "test"}
        return {"all": self.path}

    def scan(self) -> tuple[list[str], dict[str, list[Path]], tuple[int, int], str]:
        """Class names, each part's image files, the image size and Keras' colour mode."""
        from PIL import Image  # matplotlib's dependency: reads an image's header only

        where = f"dataset.loader.path={self.path}"
        if not self.path.is_dir():
            raise DataError(f"{where}: no such folder")
        files, classes = {}, None
        for part, folder in self.parts().items():
            found = sorted(d.name for d in folder.iterdir() if d.is_dir())
            if classes is not None and found != classes:
                raise DataError(f"{where}: train/ holds classes {classes}, test/ {found}")
            classes = found
            files[part] = sorted(f for f in folder.rglob("*") if f.suffix.lower() in EXTENSIONS)
            empty = [c for c in found
                     if not any(f.relative_to(folder).parts[0] == c for f in files[part])]
            if not found or not files[part] or empty:
                raise DataError(f"{where}: {folder} holds no class sub-folders with images"
                                f"{' (' + ', '.join(empty) + ' empty)' if empty else ''}; put "
                                "each class's images in a sub-folder named after it")
        if len(classes) < 2:
            raise DataError(f"{where}: one class ({classes[0]}); a classifier needs two or "
                            "more class sub-folders")
        sizes, colour = {}, False
        for path in (f for part in files.values() for f in part):
            with Image.open(path) as image:
                sizes.setdefault(image.size, path)
                colour = colour or image.mode not in ("L", "1", "I;16", "I", "F")
        if len(sizes) > 1 and not self.image_size:
            (first, a), (second, b) = list(sizes.items())[:2]
            raise DataError(f"{where}: images of mixed sizes ({a} is {first[0]}x{first[1]}, "
                            f"{b} {second[0]}x{second[1]}); resize them, or set "
                            "dataset.loader.image_size=[height,width] to have them resized")
        width, height = next(iter(sizes))
        return classes, files, self.image_size or (height, width), "rgb" if colour else \
            "grayscale"

    def describe(self) -> DatasetInfo:
        classes, files, size, mode = self.scan()
        n = {part: len(found) for part, found in files.items()}
        n_test = n.get("test", round(n.get("all", 0) * self.test_fraction))
        channels = 3 if mode == "rgb" else 1
        return DatasetInfo((*size, channels), tuple(classes),
                           n.get("train", n.get("all", 0) - n_test), n_test)

    def load(self) -> Arrays:
        if self._arrays is None:
            self._arrays = self._read()
        return self._arrays

    def _read(self) -> Arrays:
        from src.console import quiet_startup

        classes, files, size, mode = self.scan()
        with quiet_startup():
            import keras

        read = {}
        for part, folder in self.parts().items():
            images = keras.utils.image_dataset_from_directory(
                folder, labels="inferred", label_mode="int", class_names=classes,
                color_mode=mode, batch_size=None, image_size=size, shuffle=False, verbose=False)
            pairs = [(np.asarray(x), int(y)) for x, y in images.as_numpy_iterator()]
            read[part] = (np.round(np.stack([x for x, _ in pairs])).astype(np.uint8),
                          np.array([y for _, y in pairs]))
        if "all" in read:
            (x_train, y_train), (x_test, y_test) = holdout(*read["all"], self.test_fraction,
                                                           self.seed)
        else:
            (x_train, y_train), (x_test, y_test) = read["train"], read["test"]
        digest = hashlib.sha256()
        for path in (f for part in files.values() for f in part):
            digest.update(str(path.relative_to(self.path)).encode() + path.read_bytes())
        whole = {"files": digest.hexdigest(), "test_fraction": self.test_fraction,
                 "seed": self.seed}
        return Arrays(x_train, y_train, x_test, y_test, classes, str(self.path.resolve()),
                      {"train": whole, "test": whole})
