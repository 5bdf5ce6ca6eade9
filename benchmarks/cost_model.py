"""What a training image costs each model on this CPU, and the constants of src/models/flops.py
fitted to it: the cost model the sweep planner orders and packs jobs by.

    python -m benchmarks.cost_model              # 14 models x 2 rounds, ~8 minutes
    python -m benchmarks.cost_model --rounds 1 --images 2048

Each measurement is a fresh subprocess training one model with the project's trainer (batch
32, one TensorFlow thread, synthetic images), timed over its second epoch; the rounds are
interleaved so a busy machine slows every model alike. Then a non-negative least-squares fit
of seconds per image on the model's features (multiply-adds, values through Keras'
batchnorm and through the fused kernel, other layer values, a constant): the ratios are the
constants in MAC equivalents. Batch normalization runs as the trainer runs it (the fused
kernel by default); three models run Keras' layer as well.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

import numpy as np

MODELS = [  # (overrides, input shape)
    (["model=mlp"], (28, 28, 1)), (["model=cnn"], (28, 28, 1)),
    (["model=cnn", "reg=batchnorm"], (28, 28, 1)), (["model=lenet5"], (28, 28, 1)),
    (["model=lenet5", "reg=batchnorm"], (28, 28, 1)), (["model=vgg"], (28, 28, 1)),
    (["model=vgg", "reg=batchnorm"], (28, 28, 1)), (["model=resnet"], (28, 28, 1)),
    (["model=resnet", "reg=batchnorm"], (28, 28, 1)), (["model=cnn"], (32, 32, 3)),
    (["model=resnet", "reg=batchnorm"], (32, 32, 3)),
    *[([*overrides, "trainer.fused_batchnorm=false"], (28, 28, 1)) for overrides in (
        ["model=cnn", "reg=batchnorm"], ["model=vgg", "reg=batchnorm"],
        ["model=resnet", "reg=batchnorm"])],
]

MEASURE = """
import json, sys, time
import numpy as np
from hydra import compose, initialize_config_dir
from src.config import CONF_DIR, register, to_typed
from src import models, trainer
from src.data import DatasetInfo, Splits
from src.models import flops
overrides, shape, n = json.loads(sys.argv[1]), tuple(json.loads(sys.argv[2])), int(sys.argv[3])
register()
with initialize_config_dir(CONF_DIR, version_base="1.3"):
    cfg = to_typed(compose("config", overrides=[*overrides, "trainer.epochs=2",
                                                "trainer.verbose=0"]))
rng = np.random.default_rng(0)
x, y = rng.random((n, *shape), dtype=np.float32), rng.integers(0, 10, n)
splits = Splits(x, y, x[:32], y[:32], x[:32], y[:32], [str(d) for d in range(10)], "synthetic")
model = models.build(cfg.model, cfg.reg, splits.info, "", cfg.trainer.fused_batchnorm)
history = trainer.fit(model, splits, cfg, [])
print(json.dumps({"seconds_per_image": history.history["epoch_seconds"][-1] / n,
                  **flops.breakdown(model), "model_cost": flops.training_cost(model)}))
"""


def measure(overrides: list[str], shape: tuple, images: int) -> dict:
    env = {**os.environ, "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1",
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, "-c", MEASURE, json.dumps(overrides),
                          json.dumps(list(shape)), str(images)],
                         capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def fit(rows: list[dict]) -> dict[str, float]:
    """Constants in MAC equivalents: seconds/image = t * (3 macs + b bn + f fused bn + o other
    + p), where t is the time of one multiply-add of a training step."""
    from scipy.optimize import nnls

    features = np.array([[3 * r["macs"], r["batchnorm_values"], r["fused_batchnorm_values"],
                          r["other_values"], 1.0] for r in rows])
    seconds = np.array([r["seconds_per_image"] for r in rows])
    weights = 1 / seconds  # relative errors: small models count as much as large ones
    coef, _ = nnls(features * weights[:, None], seconds * weights)
    per_mac = coef[0] if coef[0] else float("nan")
    return {"seconds_per_mac": per_mac, "BATCHNORM_VALUE": coef[1] / per_mac,
            "FUSED_BATCHNORM_VALUE": coef[2] / per_mac, "OTHER_VALUE": coef[3] / per_mac,
            "PER_IMAGE": coef[4] / per_mac}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--images", type=int, default=4096)
    args = parser.parse_args(argv)
    samples: dict[int, list[dict]] = {i: [] for i in range(len(MODELS))}
    for _ in range(args.rounds):
        for i, (overrides, shape) in enumerate(MODELS):
            samples[i].append(measure(overrides, shape, args.images))
    rows = []
    for measured in samples.values():
        row = dict(measured[0])
        row["seconds_per_image"] = statistics.median(s["seconds_per_image"] for s in measured)
        rows.append(row)
    constants = fit(rows)
    print("| model | input | MACs/image | BN values | fused BN values | µs/image "
          "| model cost / measured |")
    print("|---|---|---:|---:|---:|---:|---:|")
    scale = statistics.median(r["model_cost"] / r["seconds_per_image"] for r in rows)
    for (overrides, shape), row in zip(MODELS, rows, strict=True):
        ratio = row["model_cost"] / row["seconds_per_image"] / scale
        print(f"| {' '.join(overrides)} | {'x'.join(map(str, shape))} | {row['macs']:,} | "
              f"{row['batchnorm_values']:,} | {row['fused_batchnorm_values']:,} | "
              f"{row['seconds_per_image'] * 1e6:.0f} | "
              f"{ratio:.2f} |")
    print("\nfitted:", json.dumps({k: round(v, 3) for k, v in constants.items()
                                    if k != "seconds_per_mac"}))


if __name__ == "__main__":
    main()
