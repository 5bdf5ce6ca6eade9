"""Hyperparameter search: the search space (`space`, no Optuna import) and the resumable study
(`study`) behind hydra_plugins/mnist_lab/optuna_sweeper.py."""
