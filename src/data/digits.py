"""scikit-learn's 8x8 handwritten digits (1,797 images, UCI's optdigits test set), shipped
inside scikit-learn: offline everywhere, and small enough for end-to-end tests in seconds.

It comes without a test split, so one is held out here: a stratified, seeded `test_fraction`
(20 %, seed 0: 360 test images, 1,437 for training and validation). Pixels are 0-16; they are
scaled to [0, 1] by 16.
"""

import hashlib

import numpy as np

from src.data import Arrays, holdout


def digests(x: np.ndarray, y: np.ndarray) -> dict[str, str]:
    return {"images": hashlib.sha256(x.tobytes()).hexdigest(),
            "labels": hashlib.sha256(y.tobytes()).hexdigest()}


def load_digits(test_fraction: float = 0.2, seed: int = 0) -> Arrays:
    import sklearn
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    images = (digits.images / 16.0).astype("float32")
    (x_train, y_train), (x_test, y_test) = holdout(images, digits.target, test_fraction, seed)
    return Arrays(x_train, y_train, x_test, y_test, [str(d) for d in range(10)],
                  f"sklearn.datasets.load_digits (scikit-learn {sklearn.__version__})",
                  {"train": digests(x_train, y_train), "test": digests(x_test, y_test)})
