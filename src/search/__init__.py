"""Hyperparameter search: the search space (`space`, no Optuna import), the resumable study
(`study`) behind hydra_plugins/mnist_lab/optuna_sweeper.py, and what mattered in it (`insight`,
`python -m src.search <sweep dir>`)."""
