"""Batch normalization's kernels side by side: Keras' BatchNormalization (A) against the same
layer on TensorFlow's fused kernel (B, `trainer.fused_batchnorm`, the default), in the notebook
CNN with batch normalization, in one process on one thread (as a sweep's job runs).

    python -m benchmarks.batchnorm               # 3 rounds of one epoch each on 10,000 images
    python -m benchmarks.batchnorm --quick       # CI: 1 round on 512 images

Both models are built from the same seed and trained on the same random images, epochs
alternating A, B, A, B so a busy machine slows both alike; each after a warm-up epoch (tracing).
Reports training images per CPU-second (what the kernel costs; the fairer number on a machine
whose neighbours steal time) and per second, and B / A.
"""

import argparse
import json
import statistics
import time
from pathlib import Path

from benchmarks import report

MODES = {"keras": False, "fused": True}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round on 512 images")
    parser.add_argument("--rounds", type=int, help="epochs per kernel (default 3; quick 1)")
    parser.add_argument("--images", type=int, help="images an epoch (default 10,000; quick 512)")
    parser.add_argument("--out", type=Path, help="JSON report")
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.images = args.images or (512 if args.quick else 10_000)
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras
    from hydra import compose, initialize_config_dir

    from src import models
    from src.config import CONF_DIR, register, to_typed
    from src.data import DatasetInfo

    register()
    with initialize_config_dir(CONF_DIR, version_base="1.3"):
        cfg = to_typed(compose("config", overrides=["reg=batchnorm"]))
    info = DatasetInfo((28, 28, 1), tuple(map(str, range(10))), args.images, 0)
    rng = np.random.default_rng(0)
    images = rng.random((args.images, 28, 28, 1), dtype=np.float32)
    labels = rng.integers(0, 10, args.images)
    built = {}
    for mode, fused in MODES.items():
        keras.backend.clear_session()
        keras.utils.set_random_seed(0)
        built[mode] = models.build(cfg.model, cfg.reg, info, "mnist", fused)
        built[mode].compile("adam", "sparse_categorical_crossentropy",
                            steps_per_execution=cfg.trainer.steps_per_execution)
        built[mode].fit(images, labels, batch_size=32, epochs=1, verbose=0)  # tracing, warm-up
    samples = {mode: [] for mode in MODES}
    for _ in range(args.rounds):
        for mode in MODES:
            cpu, wall = time.process_time(), time.perf_counter()
            built[mode].fit(images, labels, batch_size=32, epochs=1, verbose=0)
            samples[mode].append({"per_cpu_s": args.images / (time.process_time() - cpu),
                                  "per_s": args.images / (time.perf_counter() - wall)})
    result = {"machine": report.machine(), "images": args.images, "rounds": args.rounds,
              "kernels": {mode: models.kernels(model)["batchnorm.kernel"]
                          for mode, model in built.items()}}
    for mode, rows in samples.items():
        result[mode] = {key: statistics.median(row[key] for row in rows) for key in rows[0]}
    for key in ("per_cpu_s", "per_s"):
        result[f"ratio_{key}"] = result["fused"][key] / result["keras"][key]
    keras_row, fused_row = result["keras"], result["fused"]
    print("| kernel | images / CPU-s | images / s |\n|---|---|---|")
    print(f"| Keras' layer | {keras_row['per_cpu_s']:.0f} | {keras_row['per_s']:.0f} |")
    print(f"| fused | {fused_row['per_cpu_s']:.0f} | {fused_row['per_s']:.0f} |")
    print(f"| **fused / Keras** | **{result['ratio_per_cpu_s']:.2f}x** | "
          f"**{result['ratio_per_s']:.2f}x** |")
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
