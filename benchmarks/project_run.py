"""Side A: this project's training path - `src.data`, `src.models`, `src.trainer` - timed.

    python -m benchmarks.project_run --result a.json trainer.epochs=3 [more Hydra overrides]

The config is composed and checked exactly as `python -m src.train` does. With
`--tracking-uri` the whole `src.train` recipe runs instead (MLflow run, per-epoch metrics,
plots and artifacts), so the harness can tell what tracking costs.
"""

import argparse
import dataclasses
import os
import tempfile
import time
from pathlib import Path

from hydra import compose, initialize_config_dir

from src.config import CONF_DIR, register, to_typed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--result", required=True, help="JSON file for the measurements")
    parser.add_argument("--tracking-uri", help="run the full recipe, logging to this MLflow URI")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, as for src.train")
    args = parser.parse_args()
    t0 = float(os.environ.get("BENCH_T0", "nan"))
    marks = {"python_ready": time.monotonic() - t0}  # seconds since the harness started the process
    register()
    with initialize_config_dir(CONF_DIR, version_base="1.3"):
        cfg = to_typed(compose("config", overrides=[*args.overrides, "trainer.verbose=0"]))
    marks["config_checked"] = time.monotonic() - t0

    import keras

    from benchmarks import flops
    from benchmarks.probe import Probe, write_result
    from src import data, models, trainer

    marks["imports_done"] = time.monotonic() - t0

    probe = Probe()
    fields = {"side": "project", "batch_size": cfg.trainer.batch_size,
              "trainer": dataclasses.asdict(cfg.trainer)}
    if args.tracking_uri:
        from src import train

        cfg.tracking.uri, cfg.tracking.experiment = args.tracking_uri, "benchmark"
        cfg.tracking.skip_finished = False  # every pair trains, even with an identical config
        job_dir = Path(tempfile.mkdtemp(prefix="bench-job-"))
        start = time.perf_counter()
        train.train_config(cfg, job_dir, [probe])
        fields.update(tracked=True, run_seconds=time.perf_counter() - start, **model_cost(cfg))
    else:
        splits = data.load(cfg.dataset)
        marks["data_loaded"] = time.monotonic() - t0
        keras.utils.set_random_seed(cfg.seed)
        keras.mixed_precision.set_global_policy(cfg.trainer.precision.value)
        model = models.build(cfg.model, cfg.reg, splits.info, cfg.dataset.name)
        marks["model_built"] = time.monotonic() - t0
        trainer.fit(model, splits, cfg, [probe])
        result = trainer.evaluate(model, splits, cfg.trainer.batch_size)
        fields.update(
            tracked=False, test_accuracy=result.test_accuracy, n_train=len(splits.y_train),
            forward_flops=flops.forward_flops(model), train_flops=flops.training_flops(model),
        )
    write_result(args.result, **fields, startup_marks=marks, **probe.summary())


def model_cost(cfg) -> dict:
    """Seconds and bytes the run's MLflow Model cost (tracking.log_model), read back from MLflow."""
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient(cfg.tracking.uri)
    experiment = client.get_experiment_by_name(cfg.tracking.experiment).experiment_id
    [run] = client.search_runs([experiment], order_by=["attributes.start_time DESC"],
                               max_results=1)
    [output] = run.outputs.model_outputs
    mlflow.set_tracking_uri(cfg.tracking.uri)
    logged = mlflow.models.Model.load(f"models:/{output.model_id}")  # its MLmodel file
    return {"model_log_seconds": run.data.metrics["model_log_seconds"],
            "model_size_mb": logged.model_size_bytes / 1e6}


if __name__ == "__main__":
    main()
