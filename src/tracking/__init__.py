"""MLflow tracking: where runs go, what each run records, and how runs survive faults.

The core imports no Keras or TensorFlow, so anything that only needs a store (the sweep's
parent run, `src.compare`, the preflight checks) starts fast:

- `store`: the tracking URI, whether the store exists, whether the server answers;
- `provenance`: run name, params from the config, tags (git commit, library versions, Hydra);
- `lifecycle`: experiment get-or-create and a training run that always ends with a status;
- `resume`: config identity (`config_hash`), job dirs an interrupted launch resumes from;
- `faults`: short HTTP retries, waiting out an outage, SIGTERM as an exception;
- `sweep`: the Hydra callback that makes a multirun one parent run with child runs;
- `datasets`: train/validation/test as MLflow dataset inputs, with split digests.

Beside it, the Keras parts: `epoch_metrics` (the per-epoch callback), `artifacts` (the
confusion matrix, curves and image grids logged at the end of a run) and `logged_model` (the
network as an MLflow Model).
"""
