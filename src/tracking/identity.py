"""`config_hash`: what names a configuration across launches and machines. Runs carry it as
their `config_hash` tag, so a relaunched sweep skips configs that already FINISHED.

It is a digest of the resolved config without what only says where or how verbosely it runs.
Configs that mean what a run logged before the schema changed are hashed as that run was (the
changes: CHANGELOG.md), so no finished run is trained again after an upgrade.
"""

import hashlib
import json
from typing import Any

from omegaconf import OmegaConf

from src.config import Config

# Where, how verbosely and on which kernels a config runs, not what it computes (float rounding
# aside, as with thread counts): left out of `config_hash`.
VOLATILE = ("tracking", "trainer.verbose", "trainer.data_parallel", "trainer.fused_batchnorm",
            "dataset.data_dir")
# Knobs removed from the schema, at the value every run has used since: hashed as before, so
# runs logged before their removal still match their configs (and are skipped on re-launch).
RETIRED = {"trainer": {"fused_adam": False, "data_on_device": False}}
# Knobs added to the schema later: hashed only when set away from their defaults (which behave
# as every earlier run did), so earlier runs keep matching their configs.
ADDED = ("augment", "schedule", "optimizer.weight_decay", "trainer.label_smoothing", "trainer.tta",
         "trainer.ema", "trainer.ema_momentum", "dataset.final_fit")

# Before datasets, models and regularizers came from the config, a config named them:
# `dataset.name`, `model.name`, and `reg` as {name, conv_dropout, dense_dropout, batchnorm,
# bn_placement}. A config whose dataset (name, loader, flippable) and model nodes digest to
# what the shipped YAMLs said then, and whose regularizers are the shipped dropout and
# batchnorm, is hashed in that old shape.
LEGACY_DATASETS = {"mnist": "b6c54265314c", "fashion_mnist": "9563ef2b6ed3"}
LEGACY_MODELS = {"cnn": "f27d80c1e1a4", "mlp": "d99e171912c7", "lenet5": "a6bcfbba62ee",
                 "vgg": "7ace7a265523"}
LEGACY_REGS = {"dropout": ("src.models.regularizers.dropout", {"conv", "dense"}),
               "batchnorm": ("src.models.regularizers.batchnorm", {"placement"})}


def digest(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]


def _tree(cfg: Config, resolve: bool = True) -> dict:
    return OmegaConf.to_container(OmegaConf.structured(cfg), resolve=resolve, enum_to_str=True)


def _parent(tree: dict, key: str) -> dict:
    """The dict holding a dotted key's leaf (`tree["trainer"]` for `trainer.verbose`)."""
    for part in key.split(".")[:-1]:
        tree = tree.get(part, {})
    return tree


def _legacy_reg(reg: dict) -> dict | None:
    """The old `reg` node meaning the same regularization, or None if it had none."""
    for name, entry in reg.items():
        target, arguments = LEGACY_REGS.get(name, (None, set()))
        if entry.get("_target_") != target or set(entry) - {"_target_"} - arguments:
            return None
    dropout, batchnorm = reg.get("dropout", {}), reg.get("batchnorm")
    label = "dropout" if "dropout" in reg else "batchnorm" if batchnorm is not None else "none"
    return {"name": label, "conv_dropout": float(dropout.get("conv", 0.0)),
            "dense_dropout": float(dropout.get("dense", 0.0)),
            "batchnorm": batchnorm is not None,
            "bn_placement": (batchnorm or {}).get("placement")}


def _as_legacy(tree: dict) -> None:
    """Rewrite, in place, the nodes that mean what the old schema said in its own words."""
    dataset, model = tree["dataset"], tree["model"]
    described = {key: dataset[key] for key in ("name", "loader", "flippable")}
    reg = _legacy_reg(tree["reg"])
    if LEGACY_DATASETS.get(dataset["name"]) != digest(described) or reg is None or \
            LEGACY_MODELS.get(model["name"]) != digest(model):
        return
    for key in ("loader", "flippable"):
        dataset.pop(key)
    tree.update(model={"name": model["name"]}, reg=reg)


def config_hash(cfg: Config) -> str:
    """Digest of the resolved job config without VOLATILE keys."""
    tree, defaults = _tree(cfg), _tree(Config(), resolve=False)
    for key in VOLATILE:
        _parent(tree, key).pop(key.split(".")[-1], None)
    for key in ADDED:
        node, leaf = _parent(tree, key), key.split(".")[-1]
        if node.get(leaf) == _parent(defaults, key).get(leaf):
            node.pop(leaf, None)
    for group, values in RETIRED.items():
        tree[group].update(values)
    _as_legacy(tree)
    return digest(tree)
