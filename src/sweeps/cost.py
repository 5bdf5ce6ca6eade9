"""What each job of a sweep costs, to run the longest first and to estimate the time left:
its images times its epochs times what one image costs its model (src.models.flops), a
validation image a third of a training one.

Costing a job builds its model once (Keras loads in the launching process): the same build
refuses a model that does not fit its data before any job starts (src.preflight).
"""

from collections.abc import Sequence

from omegaconf import DictConfig

from src import data, models
from src.config import Config, validation_images
from src.data import DatasetInfo
from src.sweeps import jobs

MAX_COSTED_JOBS = 200  # composing a job takes ~0.1 s: larger sweeps count every job as equal
# What a worker's first job pays on top of its cost, in the same multiply-add equivalents:
# TensorFlow's import, the first traces and figures, ~4.5 s on the 2-core EPYC the constants of
# src.models.flops were fitted on (BENCHMARKS.md, "What a job costs").
WORKER_START = 6.0e11

_per_image: dict[str, float] = {}  # by model, regularizers, kernel, input: built once a process
_costs: dict[tuple, list[float]] = {}  # by the sweep's job overrides
_data_parallel: dict[tuple, bool] = {}  # whether any of those jobs is, from its composed config
_modelled: set[tuple] = set()  # the sweeps whose costs come from their models, not all equal


def per_image(cfg: Config, info: DatasetInfo) -> float:
    """What one training image costs this job's model (and checks that it builds)."""
    fused = cfg.trainer.fused_batchnorm
    key = repr((cfg.model, cfg.reg, fused, info.input_shape, info.num_classes))
    if key not in _per_image:
        _per_image[key] = models.check(cfg.model, cfg.reg, info, cfg.dataset.name, fused)
    return _per_image[key]


def job_cost(cfg: Config, info: DatasetInfo, image_cost: float) -> float:
    """`trainer.epochs` x (training images + validation images / 3) x `image_cost`."""
    val = validation_images(cfg.dataset.val_size, info.n_train)
    train = info.n_train - val
    if cfg.dataset.train_limit is not None:
        train = min(train, cfg.dataset.train_limit)
    return cfg.trainer.epochs * (train + val / 3) * image_cost


def costs_of(configs: Sequence[Config]) -> list[float]:
    """Each config's cost, its dataset described and its model built (once each)."""
    costs = []
    for cfg in configs:
        info = data.describe(cfg.dataset)
        costs.append(job_cost(cfg, info, per_image(cfg, info)))
    return costs


def remember(job_overrides: Sequence[Sequence[str]], costs: list[float],
             data_parallel: bool = False) -> None:
    """Costs the preflight has computed already: the launcher composes no job again."""
    key = tuple(tuple(overrides) for overrides in job_overrides)
    _costs[key], _data_parallel[key] = list(costs), data_parallel
    _modelled.add(key)


def job_costs(config: DictConfig, job_overrides: Sequence[Sequence[str]]) -> list[float]:
    """Each job's cost, from its composed config (remembered for the sweep)."""
    key = tuple(tuple(overrides) for overrides in job_overrides)
    if key not in _costs:
        if len(job_overrides) > MAX_COSTED_JOBS:
            _costs[key] = [1.0] * len(job_overrides)
        else:
            configs = [jobs.compose(config, list(overrides), number)
                       for number, overrides in enumerate(job_overrides)]
            _costs[key] = costs_of(configs)
            _data_parallel[key] = any(cfg.trainer.data_parallel for cfg in configs)
            _modelled.add(key)
    return _costs[key]


def worker_start(job_overrides: Sequence[Sequence[str]]) -> float:
    """What starting a worker costs, in the units of these jobs' `job_costs`: WORKER_START
    where they were costed from their models, 0 where they count as equal."""
    key = tuple(tuple(overrides) for overrides in job_overrides)
    return WORKER_START if key in _modelled else 0.0


def data_parallel(config: DictConfig, job_overrides: Sequence[Sequence[str]]) -> bool:
    """Whether any job trains data-parallel (and so takes every GPU): from the composed jobs
    where they were costed, else from the sweep's config and the overrides as written."""
    key = tuple(tuple(overrides) for overrides in job_overrides)
    if key in _data_parallel:
        return _data_parallel[key]
    return bool(config.trainer.get("data_parallel", False)) or any(
        override.replace(" ", "").lower() == "trainer.data_parallel=true"
        for overrides in job_overrides for override in overrides)
