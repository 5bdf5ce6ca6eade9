"""The typed schema `conf/config.yaml` composes into, and every range check of its values.

Registered in Hydra's ConfigStore (src.config.register), so a misspelled key, a wrong type
(`optimizer.lr=abc`) or an unknown option (`optimizer=rmsprop`) fails at composition with
OmegaConf's message. Ranges are checked in `__post_init__`, which runs whenever these objects
are built: by `to_typed`, the first thing every entry point does, and by tests; the ones that
depend on the data (`dataset.val_size` against its images) in `check_against_data`.
"""

import math
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Optional

from src.choices import AugmentName, OptimizerName, Precision, ScheduleName, Split
from src.errors import ConfigError

TTA_MODES = ("none", "flip", "flip+shift")  # src.evaluation.views


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
    """Which images, and how validation is cut from their training set (the same for every
    loader); the loader tells the rest: shape, classes, sizes (src.data)."""

    group: ClassVar[str] = "dataset"
    name: str = "mnist"  # in run names and the default experiment name
    loader: Optional[dict[str, Any]] = None  # `_target_` and its keyword arguments
    data_dir: Optional[str] = "${oc.env:DATA_DIR,null}"
    split: Split = Split.random
    val_size: float = 0.1  # >= 1: a count of images; < 1: a fraction of the training set
    split_seed: int = 42
    train_limit: Optional[int] = None  # keep only the first N training images (smoke runs)
    flippable: bool = True  # false: a mirrored image shows another class (digits): no flips
    # The final fit: train on every training image, validation included, and read no validation
    # split; for a recipe already chosen on validation (docs/experiments.md).
    final_fit: bool = False

    def __post_init__(self) -> None:
        self.check("name", bool(self.name.strip()), "a non-empty name")
        size = self.val_size
        self.check("val_size", 0 < size < 1 or (size >= 1 and float(size).is_integer()),
                   "a fraction in (0, 1) or a whole count of images >= 1")
        limit = self.train_limit
        self.check("train_limit", limit is None or limit >= 1, ">= 1, or null for all images")
        self.check("split_seed", self.split == Split.random or self.split_seed == 42,
                   "left at 42 with dataset.split=last, where it has no effect")


def check_against_data(cfg: DatasetConfig, n_train: int) -> None:
    """The split settings against the dataset's `n_train` training images."""
    size = cfg.val_size
    count = 1 <= size < n_train and float(size).is_integer()
    cfg.check("val_size", 0 < size < 1 or count,
              f"a fraction in (0, 1) or a whole count of images in [1, {n_train})")
    left = n_train if cfg.final_fit else n_train - validation_images(size, n_train)
    cfg.check("train_limit", cfg.train_limit is None or cfg.train_limit < left,
              f"below the {left} training images"
              f"{'' if cfg.final_fit else ' left after validation'}, or null for all")


def validation_images(val_size: float, n_train: int) -> int:
    """How many of `n_train` images `val_size` holds out (a fraction rounds up, as
    scikit-learn's train_test_split does)."""
    return math.ceil(val_size * n_train) if val_size < 1 else int(val_size)


def reg_label(reg: dict) -> str:
    """What regularized a run, for its name and groups: `none`, `dropout`, `batchnorm+dropout`."""
    return "+".join(sorted(reg)) or "none"


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
        self.check("momentum", self.name == OptimizerName.sgd or self.momentum == 0.0,
                   f"0 with optimizer={self.name}, which has no momentum (sgd has)")


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
    # TensorFlow: batch normalization on the fused kernel, Keras' math in one op (false: Keras'
    # own layer; other backends always use it); src.models.fused_batchnorm.
    fused_batchnorm: bool = True
    data_parallel: bool = False  # JAX backend: each batch split over every local device
    label_smoothing: float = 0.0  # targets (1 - s) on the class, s spread over all classes
    # How validation and test images are scored (src.evaluation); both off by default.
    tta: str = "none"  # test-time augmentation: none, flip, or flip+shift
    ema: bool = False  # score and log the moving average of the weights (Keras' optimizer EMA)
    ema_momentum: float = 0.99  # the average's decay per training step

    def __post_init__(self) -> None:
        self.check("epochs", self.epochs >= 1, ">= 1")
        self.check("batch_size", self.batch_size >= 1, ">= 1")
        self.check("verbose", self.verbose in (0, 1, 2), "0, 1 or 2")
        self.check("steps_per_execution", self.steps_per_execution >= 1, ">= 1")
        self.check("label_smoothing", 0.0 <= self.label_smoothing < 1.0, "in [0, 1)")
        self.check("tta", self.tta in TTA_MODES, " or ".join(TTA_MODES))
        self.check("ema_momentum", 0.0 < self.ema_momentum < 1.0, "in (0, 1)")


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
    rerun_of: Optional[str] = None  # the run id `python -m src.rerun` repeats (tag rerun_of)

    def __post_init__(self) -> None:
        self.check("wait_for_server", self.wait_for_server >= 0, ">= 0 (seconds)")
        self.check("system_metrics_interval", self.system_metrics_interval >= 1,
                   ">= 1 (seconds; each sample is a write to the tracking store)")
        self.check("experiment", bool(self.experiment.strip()), "a non-empty name")


@dataclass
class Config(Checked):
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    # `_target_`: a builder taking input_shape and num_classes; `name`; the builder's arguments
    model: dict[str, Any] = field(default_factory=dict)
    # One entry per regularizer: its `_target_` and arguments; {} is no regularization
    reg: dict[str, Any] = field(default_factory=dict)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    seed: int = 0

    def __post_init__(self) -> None:
        self.check("seed", 0 <= self.seed < 2**32, "in [0, 2**32), as NumPy's seeding requires")
        self.augment.check("horizontal_flip", not self.augment.horizontal_flip
                           or self.dataset.flippable,
                           f"false on {self.dataset.name} (dataset.flippable=false: a mirrored "
                           "image shows another class; use augment=digits)")
        self.trainer.check("tta", self.trainer.tta == "none" or self.dataset.flippable,
                           f"none on {self.dataset.name} (dataset.flippable=false: a mirrored "
                           "image shows another class)")
