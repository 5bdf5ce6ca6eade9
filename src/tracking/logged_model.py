"""The trained network as an MLflow Model (Keras flavor): loadable with `mlflow.pyfunc`,
servable with `mlflow models serve`, registrable (src.registry).

Logged as an MLflow 3 logged model of the active run: it takes the run's params, and the test
metrics are linked to it, so the UI's Models column and tab show what it scored.
"""

import contextlib
import io
import os
import sys
from importlib import metadata
from types import SimpleNamespace

import keras
import mlflow
import numpy as np
from mlflow.models import ModelSignature, infer_signature

from src.models import fused_batchnorm

MODEL_NAME = "model"  # the logged model's name, as the run's Models column shows it
EXAMPLE_IMAGES = 2


def _save_model(path: str, **kwargs) -> None:
    # mlflow.keras.save_model writes the input example before it creates the model dir
    # (mlflow/mlflow#16183, open in 3.17): create the dir first, then let MLflow do the rest.
    os.makedirs(path, exist_ok=True)
    mlflow.keras.save_model(path=path, **kwargs)


# The Keras flavor with only that fix; its name is what MLflow records as the flavor.
KERAS_FLAVOR = SimpleNamespace(__name__="mlflow.keras", save_model=_save_model)


def requirements() -> list[str]:
    """Pinned from this process, so MLflow need not load the model in a subprocess to infer
    them (seconds per run). The backend is whichever Keras ran on."""
    backend = {"tensorflow": ["tensorflow"], "jax": ["jax", "jaxlib"]}[keras.backend.backend()]
    return [f"{name}=={metadata.version(name)}" for name in ["mlflow", "keras", "numpy", *backend]]


def signature(model: keras.Model, images: np.ndarray) -> ModelSignature:
    """Images in (batch, 28, 28, 1) float32 in [0, 1]; out one probability per class."""
    return infer_signature(images, keras.ops.convert_to_numpy(model(images, training=False)))


def log(model: keras.Model, test_images: np.ndarray, step: int) -> str:
    """Log `model` into the active run; returns the logged model's id (`models:/<id>`)."""
    example = test_images[:EXAMPLE_IMAGES]
    # MLflow checks the example with a predict() whose progress bar would land in the job's log.
    with contextlib.redirect_stdout(io.StringIO()), fused_batchnorm.keras_layers(model):
        info = mlflow.models.Model.log(
            artifact_path=None, name=MODEL_NAME, flavor=KERAS_FLAVOR, model=model,
            signature=signature(model, example), input_example=example,
            pip_requirements=requirements(), step=step,
            tags={"python": ".".join(map(str, sys.version_info[:3]))},
        )
    return info.model_id
