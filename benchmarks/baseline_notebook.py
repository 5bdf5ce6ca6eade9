"""Side B: the MNIST notebook's training code as a bare script - plain Keras, nothing else.

Same architecture (plain, with the notebook's dropout, or with its batch normalization),
Adam(1e-3), batch 32, the last 10,000 training images held out, and `model.fit` on numpy
arrays exactly as the notebook did. Only the data comes from the local IDX files (the notebook
downloaded the same images) and a timing probe rides along.

    python benchmarks/baseline_notebook.py --data-dir $DATA_DIR --epochs 3 --result b.json
    python benchmarks/baseline_notebook.py --data-dir $DATA_DIR --reg batchnorm --result b.json
"""

import argparse
import gzip
import sys
from pathlib import Path

import numpy as np


def read_idx(path: Path) -> np.ndarray:
    raw = gzip.decompress(path.read_bytes())
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(raw[3]))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * raw[3]).reshape(shape)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="folder holding mnist/*.gz")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--train-limit", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reg", choices=("none", "dropout", "batchnorm"), default="none",
                        help="the notebook's model, model_with_drop_out or model_with_BN")
    parser.add_argument("--result", required=True, help="JSON file for the measurements")
    args = parser.parse_args()

    folder = Path(args.data_dir) / "mnist"
    X_train = read_idx(folder / "train-images-idx3-ubyte.gz")
    y_train = read_idx(folder / "train-labels-idx1-ubyte.gz")
    X_test = read_idx(folder / "t10k-images-idx3-ubyte.gz")
    y_test = read_idx(folder / "t10k-labels-idx1-ubyte.gz")

    # --- the notebook, cell by cell (`tensorflow.keras` is Keras 3; plain `keras` also runs on JAX)
    import keras
    from keras import Sequential
    from keras.layers import (
        BatchNormalization,
        Conv2D,
        Dense,
        Dropout,
        Flatten,
        Input,
        MaxPooling2D,
    )

    X_train = X_train.reshape(-1, 28, 28, 1).astype("float32") / 255.0
    X_test = X_test.reshape(-1, 28, 28, 1).astype("float32") / 255.0
    X_train, X_val = X_train[:-10000], X_train[-10000:]
    y_train, y_val = y_train[:-10000], y_train[-10000:]
    if args.train_limit:
        X_train, y_train = X_train[: args.train_limit], y_train[: args.train_limit]

    keras.utils.set_random_seed(args.seed)  # not in the notebook: pairs A/B on the same seed
    dropout, bn = args.reg == "dropout", args.reg == "batchnorm"
    model = Sequential()
    model.add(Input((28, 28, 1)))  # the notebook's input_shape= argument, minus the warning
    model.add(Conv2D(32, (3, 3), activation="relu"))
    if bn:
        model.add(BatchNormalization())
    model.add(MaxPooling2D((2, 2)))
    if dropout:
        model.add(Dropout(0.25))
    model.add(Conv2D(64, (3, 3), activation="relu"))
    if bn:
        model.add(BatchNormalization())
    model.add(MaxPooling2D((2, 2)))
    if dropout:
        model.add(Dropout(0.25))
    model.add(Flatten())
    model.add(Dense(64, activation="relu"))
    if bn:
        model.add(BatchNormalization())
    if dropout:
        model.add(Dropout(0.5))
    model.add(Dense(10, activation="softmax"))
    optimizer = keras.optimizers.Adam(learning_rate=0.001)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=optimizer, metrics=["accuracy"])

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks.probe import Probe, write_result

    probe = Probe()
    model.fit(
        X_train, y_train, epochs=args.epochs, batch_size=args.batch_size,
        validation_data=(X_val, y_val), callbacks=[probe], verbose=0,
    )
    test_loss, test_accuracy = model.evaluate(X_test, y_test, verbose=0)
    write_result(
        args.result, side="baseline", reg=args.reg, test_accuracy=float(test_accuracy),
        n_train=len(y_train), batch_size=args.batch_size, **probe.summary(),
    )


if __name__ == "__main__":
    main()
