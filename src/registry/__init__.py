"""The model registry: the best run of a sweep or comparison as a registered model version
with an alias, and any logged model served over HTTP.

    python -m src.registry register --sweep-dir multirun/3f9c0a1b2d4e    # -> mnist-cnn@champion
    python -m src.registry serve models:/mnist-cnn@champion --port 5001

`core` picks, registers and resolves with MlflowClient alone; `cli` is the command line.
"""
