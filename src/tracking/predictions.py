"""Each run's per-image test evidence, the `predictions.npz` artifact: every test image's true
and predicted class, and the probabilities while they stay small. Written at the end of
training, read by src.compare to pair groups image by image and to average seeds into
ensembles; numpy only, so reading it costs no TensorFlow."""

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

ARTIFACT = "predictions.npz"
# float16 probabilities up to this many values: MNIST's test set holds 100,000 (10,000 images
# x 10 classes), about 150 kB compressed.
MAX_PROBABILITIES = 1_000_000


@dataclass
class Predictions:
    y_true: np.ndarray  # (images,) int
    y_pred: np.ndarray  # (images,) int
    probabilities: Optional[np.ndarray]  # (images, classes) float16, or None when too large

    @property
    def correct(self) -> np.ndarray:
        return self.y_pred == self.y_true


def write(path: Path, y_true, y_pred, probabilities: np.ndarray) -> None:
    arrays = {"y_true": np.asarray(y_true, np.int32), "y_pred": np.asarray(y_pred, np.int32)}
    if probabilities.size <= MAX_PROBABILITIES:
        arrays["probabilities"] = probabilities.astype(np.float16)
    np.savez_compressed(path, **arrays)


def read(path: Path) -> Predictions:
    with np.load(path) as saved:
        return Predictions(saved["y_true"], saved["y_pred"], saved.get("probabilities"))
