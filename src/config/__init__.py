"""The run configuration: the schema (src.config.schema) registered with Hydra, and the
composed config turned into checked dataclasses.

The config is closed - a key added with `+` (`+trainer.epoch=5`) is refused here, naming the
closest one - except where your own code plugs in: the keyword arguments of `model`,
`dataset.loader` and each `reg` entry, which their callables' signatures check (src.targets).
"""

import hashlib
import json
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict
from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

from src.config.schema import (  # noqa: F401 - the schema's names, as the project imports them
    AugmentConfig,
    Checked,
    Config,
    DatasetConfig,
    OptimizerConfig,
    ScheduleConfig,
    TrackingConfig,
    TrainerConfig,
    check_against_data,
    reg_label,
    validation_images,
)
from src.errors import ConfigError
from src.targets import call, closest

CONF_DIR = str(Path(__file__).resolve().parents[2] / "conf")  # absolute: works from any cwd


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


OPEN = ("model", "reg", "dataset.loader")  # their keys are their callables' arguments


def _check_open(key: str, node: Any, what: str) -> None:
    if not isinstance(node, dict) or not isinstance(node.get("_target_"), str):
        raise ConfigError(f"{key} must name {what} with `_target_`, its keyword arguments "
                          f"beside it (conf/{key.split('.')[0]}/*.yaml); it is {node!r}")


def check_open(cfg: Config) -> None:
    """The open nodes name their code, and the model its name (the schema cannot say it)."""
    _check_open("dataset.loader", cfg.dataset.loader, "the class or function that reads it")
    _check_open("model", cfg.model, "the function that builds it")
    if not isinstance(cfg.model.get("name"), str) or not cfg.model["name"].strip():
        raise ConfigError("model.name is missing: name the model in its YAML (it heads run "
                          "names and the default experiment name)")
    for key, entry in cfg.reg.items():
        _check_open(f"reg.{key}", entry, "the function that makes the regularizer")
        call(entry, f"reg.{key}", {})  # its arguments checked: cheap, Keras loads only to build


def refuse_added_keys(node: Any, schema: Any, path: str = "") -> None:
    """Keys a `+` override added where the schema has none: with `+trainer.epoch=5` a run
    would train the default epochs, silently."""
    if not isinstance(node, DictConfig) or not is_dataclass(schema):
        return
    types = {f.name: f.type for f in fields(schema)}
    for key in node:
        where = f"{path}{key}"
        if key not in types:
            near = closest(where, [path + name for name in types])
            raise ConfigError(f"{where} is not a setting{near}; + adds keys only to a model's, "
                              "loader's or regularizer's own arguments")
        if where not in OPEN:
            refuse_added_keys(node._get_node(key), types[key], f"{where}.")


def to_typed(cfg: DictConfig) -> Config:
    """The composed config (with or without Hydra's node) as checked dataclasses."""
    if "hydra" in cfg:
        cfg = cfg.copy()
        with open_dict(cfg):
            del cfg["hydra"]
    refuse_added_keys(cfg, Config)
    try:
        typed = OmegaConf.to_object(cfg)
    except MissingMandatoryValue as exc:
        raise ConfigError(f"{exc.full_key} is missing: set it, e.g. {exc.full_key}=...") from exc
    except OmegaConfBaseException as exc:  # e.g. an interpolation that does not resolve
        raise ConfigError(f"{exc.full_key}: {exc.msg.splitlines()[0]}") from exc
    check_open(typed)
    return typed
