"""Typed run configuration: the schema `conf/config.yaml` composes into, and its checks.

The dataclasses are registered in Hydra's ConfigStore, so a misspelled key, a wrong type
(`optimizer.lr=abc`) or an unknown name (`model.name=vit`) fails at composition with
OmegaConf's message. Ranges are checked in `__post_init__`, which runs whenever these objects
are built: by `to_typed`, the first thing every entry point does, and by tests.
"""

import hashlib
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from src.choices import (
    AugmentName,
    BNPlacement,
    DatasetName,
    ModelName,
    OptimizerName,
    Precision,
    RegName,
    ScheduleName,
    Split,
)
from src.errors import BadInput

CONF_DIR = str(Path(__file__).resolve().parents[1] / "conf")  # absolute: works from any cwd
TRAIN_IMAGES = 60_000  # in the training file of either dataset (their SHA-256 are checked)


class ConfigError(BadInput):
    """A value that type-checks but makes no sense (negative epochs, dropout of 1.5)."""


class Checked:
    """Range checks whose message names the key, the rule and the default to fall back on."""

    group: ClassVar[str] = ""  # the key prefix: `trainer` for TrainerConfig

    def check(self, key: str, ok: bool, rule: str) -> None:
        if ok:
            return
        default = next(f.default for f in fields(self) if f.name == key)
        path = f"{self.group}.{key}" if self.group else key
        shown = "null" if default is None else default
        raise ConfigError(f"{path}={getattr(self, key)!r} is invalid: it must be {rule} "
                          f"(the default is {path}={shown})")


@dataclass
class DatasetConfig(Checked):
    group: ClassVar[str] = "dataset"
    name: DatasetName = DatasetName.mnist
    data_dir: Optional[str] = "${oc.env:DATA_DIR,null}"
    split: Split = Split.last
    val_size: float = 10000  # >= 1: a count of images; < 1: a fraction of the training set
    split_seed: int = 42
    train_limit: Optional[int] = None  # keep only the first N training images (smoke runs)

    def __post_init__(self) -> None:
        size = self.val_size
        count = 1 <= size < TRAIN_IMAGES and float(size).is_integer()
        self.check("val_size", 0 < size < 1 or count,
                   f"a fraction in (0, 1) or a whole count of images in [1, {TRAIN_IMAGES})")
        limit = self.train_limit
        self.check("train_limit", limit is None or limit >= 1, ">= 1, or null for all images")


@dataclass
class ModelConfig(Checked):
    group: ClassVar[str] = "model"
    name: ModelName = ModelName.cnn


@dataclass
class RegConfig(Checked):
    group: ClassVar[str] = "reg"
    name: RegName = RegName.none
    conv_dropout: float = 0.0  # after each conv block's pooling
    dense_dropout: float = 0.0  # after the last hidden (feature) layer
    batchnorm: bool = False
    bn_placement: Optional[BNPlacement] = None  # null: the placement the model's notebook used

    def __post_init__(self) -> None:
        for key in ("conv_dropout", "dense_dropout"):
            self.check(key, 0.0 <= getattr(self, key) < 1.0, "in [0, 1)")


@dataclass
class OptimizerConfig(Checked):
    group: ClassVar[str] = "optimizer"
    name: OptimizerName = OptimizerName.adam
    lr: float = 1e-3
    momentum: float = 0.0  # SGD only
    weight_decay: float = 0.0  # decoupled (AdamW), on conv/dense kernels only

    def __post_init__(self) -> None:
        self.check("lr", self.lr > 0, "> 0")
        self.check("momentum", 0.0 <= self.momentum < 1.0, "in [0, 1)")
        self.check("weight_decay", 0.0 <= self.weight_decay < 1.0, "in [0, 1)")


@dataclass
class AugmentConfig(Checked):
    """Random changes to each training batch (never to validation or test images)."""

    group: ClassVar[str] = "augment"
    name: AugmentName = AugmentName.none
    shift: float = 0.0  # largest translation, a fraction of the image side (0.1 = 2.8 pixels)
    rotation: float = 0.0  # largest rotation, degrees either way
    horizontal_flip: bool = False  # mirror half the images
    erasing: float = 0.0  # chance that an image gets a random patch blanked (random erasing)

    def __post_init__(self) -> None:
        self.check("shift", 0.0 <= self.shift <= 0.5, "in [0, 0.5]")
        self.check("rotation", 0.0 <= self.rotation <= 180.0, "in [0, 180] (degrees)")
        self.check("erasing", 0.0 <= self.erasing <= 1.0, "in [0, 1]")


@dataclass
class ScheduleConfig(Checked):
    """The learning rate over training: optimizer.lr is the peak, reached after `warmup`."""

    group: ClassVar[str] = "schedule"
    name: ScheduleName = ScheduleName.constant
    warmup: float = 0.0  # fraction of all steps spent rising linearly to optimizer.lr
    start_factor: float = 0.0  # the first step's lr, as a fraction of optimizer.lr
    final_factor: float = 0.0  # the last step's lr after the cosine decay, likewise

    def __post_init__(self) -> None:
        self.check("warmup", 0.0 <= self.warmup < 1.0, "in [0, 1)")
        for key in ("start_factor", "final_factor"):
            self.check(key, 0.0 <= getattr(self, key) <= 1.0, "in [0, 1]")
        constant = self.name == ScheduleName.constant
        self.check("warmup", not constant or self.warmup == 0, "0 for a constant schedule")


@dataclass
class TrainerConfig(Checked):
    group: ClassVar[str] = "trainer"
    epochs: int = 10
    batch_size: int = 32
    verbose: int = 2  # Keras fit verbosity: 0 silent, 1 progress bar, 2 one line per epoch
    # Speed knobs (BENCHMARKS.md has what each buys); only `precision` can change the math.
    jit_compile: Optional[bool] = None  # null: Keras' "auto": XLA on GPU, off on CPU (slower there)
    steps_per_execution: int = 16  # batches per compiled call; callbacks still see every epoch
    precision: Precision = Precision.float32  # mixed_bfloat16: opt in, compare accuracy
    data_parallel: bool = False  # JAX backend: each batch split over every local device
    label_smoothing: float = 0.0  # targets (1 - s) on the class, s spread over all classes

    def __post_init__(self) -> None:
        self.check("epochs", self.epochs >= 1, ">= 1")
        self.check("batch_size", self.batch_size >= 1, ">= 1")
        self.check("verbose", self.verbose in (0, 1, 2), "0, 1 or 2")
        self.check("steps_per_execution", self.steps_per_execution >= 1, ">= 1")
        self.check("label_smoothing", 0.0 <= self.label_smoothing < 1.0, "in [0, 1)")


@dataclass
class TrackingConfig(Checked):
    group: ClassVar[str] = "tracking"
    uri: Optional[str] = None  # null: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db here
    experiment: str = "${dataset.name}-${model.name}"
    log_model: bool = True  # an MLflow Model (Keras flavor) per run: pyfunc, serve, register
    system_metrics: bool = True  # CPU, memory, disk, network (GPU if any) as system/... metrics
    system_metrics_interval: float = 5.0  # seconds between samples
    skip_finished: bool = True  # a re-launch skips configs that already have a FINISHED run
    wait_for_server: float = 600.0  # seconds the end of a run waits for a server that went down

    def __post_init__(self) -> None:
        self.check("wait_for_server", self.wait_for_server >= 0, ">= 0 (seconds)")
        self.check("system_metrics_interval", self.system_metrics_interval >= 1,
                   ">= 1 (seconds; each sample is a write to the tracking store)")
        self.check("experiment", bool(self.experiment.strip()), "a non-empty name")


@dataclass
class Config(Checked):
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    reg: RegConfig = field(default_factory=RegConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    seed: int = 0

    def __post_init__(self) -> None:
        self.check("seed", 0 <= self.seed < 2**32, "in [0, 2**32), as NumPy's seeding requires")
        self.augment.check("horizontal_flip", not self.augment.horizontal_flip
                           or self.dataset.name != DatasetName.mnist,
                           "false on mnist (a mirrored digit is not a digit: use augment=digits)")


def command_digest(overrides: Any) -> str:
    """`${digest:${hydra.overrides.task}}` in conf/config.yaml: the same overrides, the same dir.

    Registered with use_cache, so a sweep's jobs resolve `hydra.sweep.dir` to the value the
    launching process computed from the sweep's overrides - the way Hydra keeps `${now:}`.
    The overrides are read as typed: `tracking.experiment=${dataset.name}` is not resolved.
    """
    if isinstance(overrides, ListConfig):
        overrides = OmegaConf.to_container(overrides, resolve=False)
    canonical = json.dumps(sorted(str(o) for o in overrides))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def register() -> None:
    """Register the schema `conf/config.yaml` lists first (so every group file is typed) and
    the `digest` resolver its output dirs use; every entry point calls this before Hydra."""
    ConfigStore.instance().store(name="base_config", node=Config)
    OmegaConf.register_new_resolver("digest", command_digest, use_cache=True, replace=True)


def to_typed(cfg: DictConfig) -> Config:
    """The composed config (with or without Hydra's node) as checked dataclasses."""
    if "hydra" in cfg:
        cfg = cfg.copy()
        with open_dict(cfg):
            del cfg["hydra"]
    try:
        return OmegaConf.to_object(cfg)
    except OmegaConfBaseException as exc:  # e.g. an interpolation that does not resolve
        raise ConfigError(f"{exc.full_key}: {exc.msg.splitlines()[0]}") from exc
