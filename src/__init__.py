"""Hydra-configured Keras experiments on MNIST-like data, tracked in MLflow."""
