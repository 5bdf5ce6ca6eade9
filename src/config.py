"""Typed run configuration.

The dataclasses are registered in Hydra's ConfigStore as schemas for `conf/config.yaml`, so a
misspelled key or a wrong type (`optimizer.lr=abc`) fails at composition with OmegaConf's own
message. Range checks live in `__post_init__` and run when `to_typed` turns the composed config
into these objects - the first thing every entry point does, before any data or MLflow work.
"""

import hashlib
import json
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf


class ConfigError(ValueError):
    """A value that type-checks but makes no sense (negative epochs, dropout of 1.5)."""


def _check(ok: bool, key: str, value: Any, rule: str) -> None:
    if not ok:
        raise ConfigError(f"{key}={value!r} is invalid: must be {rule}")


class Split(str, Enum):
    last = "last"  # the last `val_size` training images (MNIST notebook)
    random = "random"  # shuffled with `split_seed` (homework: 80/20, random_state=42)


class BNPlacement(str, Enum):
    before_activation = "before_activation"  # conv -> BN -> relu (homework LeNet-5)
    after_activation = "after_activation"  # conv+relu -> BN (MNIST notebook)


class Precision(str, Enum):
    float32 = "float32"  # the notebooks' math
    mixed_bfloat16 = "mixed_bfloat16"  # bfloat16 compute, float32 weights: faster on AMX CPUs


@dataclass
class DatasetConfig:
    name: str = "mnist"
    data_dir: Optional[str] = "${oc.env:DATA_DIR,null}"
    split: Split = Split.last
    val_size: float = 10000  # >= 1: a count of images; < 1: a fraction of the training set
    split_seed: int = 42
    train_limit: Optional[int] = None  # keep only the first N training images (smoke runs)

    def __post_init__(self) -> None:
        _check(self.val_size > 0, "dataset.val_size", self.val_size, "> 0")
        limit = self.train_limit
        _check(limit is None or limit >= 1, "dataset.train_limit", limit, ">= 1 or null")


@dataclass
class ModelConfig:
    name: str = "cnn"


@dataclass
class RegConfig:
    name: str = "none"
    conv_dropout: float = 0.0  # after each conv block's pooling
    dense_dropout: float = 0.0  # after the last hidden (feature) layer
    batchnorm: bool = False
    bn_placement: Optional[BNPlacement] = None  # null: the placement the model's notebook used

    def __post_init__(self) -> None:
        for key in ("conv_dropout", "dense_dropout"):
            rate = getattr(self, key)
            _check(0.0 <= rate < 1.0, f"reg.{key}", rate, "in [0, 1)")


@dataclass
class OptimizerConfig:
    name: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.0  # SGD only

    def __post_init__(self) -> None:
        _check(self.lr > 0, "optimizer.lr", self.lr, "> 0")
        _check(0.0 <= self.momentum < 1.0, "optimizer.momentum", self.momentum, "in [0, 1)")


@dataclass
class TrainerConfig:
    epochs: int = 10
    batch_size: int = 32
    verbose: int = 2  # Keras fit verbosity: 0 silent, 1 progress bar, 2 one line per epoch
    # Speed knobs (BENCHMARKS.md has what each buys); only `precision` can change the math.
    jit_compile: Optional[bool] = None  # null: Keras' "auto": XLA on GPU, off on CPU (slower there)
    steps_per_execution: int = 16  # batches per compiled call; callbacks still see every epoch
    fused_adam: bool = False  # TensorFlow: Adam in one kernel per weight: less CPU, not faster
    data_on_device: bool = False  # JAX: keep the training set on the GPU, shuffle and slice there
    precision: Precision = Precision.float32  # mixed_bfloat16: opt in, compare accuracy

    def __post_init__(self) -> None:
        _check(self.epochs >= 1, "trainer.epochs", self.epochs, ">= 1")
        _check(self.batch_size >= 1, "trainer.batch_size", self.batch_size, ">= 1")
        _check(self.verbose in (0, 1, 2), "trainer.verbose", self.verbose, "0, 1 or 2")
        spe = self.steps_per_execution
        _check(spe >= 1, "trainer.steps_per_execution", spe, ">= 1")


@dataclass
class TrackingConfig:
    uri: Optional[str] = None  # null: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db here
    experiment: str = "${dataset.name}-${model.name}"
    log_model: bool = False
    skip_finished: bool = True  # a re-launch skips configs that already have a FINISHED run
    wait_for_server: float = 600.0  # seconds the end of a run waits for a server that went down

    def __post_init__(self) -> None:
        wait = self.wait_for_server
        _check(wait >= 0, "tracking.wait_for_server", wait, ">= 0 (seconds)")


@dataclass
class Config:
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    reg: RegConfig = field(default_factory=RegConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    seed: int = 0


_CHOICES = {
    "dataset": ("mnist", "fashion_mnist"),
    "model": ("cnn", "mlp", "lenet5"),
    "reg": ("none", "dropout", "batchnorm"),
    "optimizer": ("adam", "sgd"),
}


def command_digest(overrides: Any) -> str:
    """`${digest:${hydra.overrides.task}}` in conf/config.yaml: the same overrides, the same dir.

    Registered with use_cache, so a sweep's jobs resolve `hydra.sweep.dir` to the value the
    launching process computed from the sweep's overrides - the way Hydra keeps `${now:}`.
    """
    canonical = json.dumps(sorted(str(o) for o in overrides))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def register() -> None:
    """Register the schema `conf/config.yaml` lists first (so every group file is typed) and
    the `digest` resolver its output dirs use; every entry point calls this before Hydra."""
    ConfigStore.instance().store(name="base_config", node=Config)
    OmegaConf.register_new_resolver("digest", command_digest, use_cache=True, replace=True)


def to_typed(cfg: DictConfig) -> Config:
    """Resolve the composed config into dataclasses, running every range check."""
    typed = OmegaConf.to_object(cfg)
    for group, names in _CHOICES.items():
        name = getattr(typed, group).name
        _check(name in names, f"{group}.name", name, f"one of {', '.join(names)}")
    return typed

