"""Models from the config: `model` names a builder (`_target_`) and carries its keyword
arguments (widths, depth); `reg` names the regularizers to apply (src.models.regularizers).

    model:                                  reg:
      _target_: src.models.convnets.cnn       dropout: {_target_: ...dropout, conv: 0.25}
      name: cnn                               batchnorm: {_target_: ...batchnorm}
      filters: [32, 64]

A builder is a function (here: `mlp`, `convnets`, `resnet`; or in your own package) taking the
dataset's `input_shape` and `num_classes` plus its own keyword arguments, returning a Keras
functional model. `build` applies the regularizers at the places it marks (`sites`) and refuses,
in one line, whatever would not train as configured. Importing this package loads no Keras.
"""

import re
from typing import Any

from src.config import ConfigError, reg_label
from src.targets import TargetError, accepts, call, resolve

PROJECT_KEYS = ("name",)  # model keys the project reads; the rest are the builder's
PLACES = {  # what a model lacks when a regularizer's hook never fired (src.models.sites)
    "hidden": "no hidden layer (sites.hidden)", "before_activation": "no hidden layer "
    "(sites.hidden)", "after_activation": "no hidden layer (sites.hidden)",
    "block": "no conv block (sites.block)", "features": "no features (sites.features)",
    "model": "no layer it applies to",
}


def make_regularizers(reg: dict[str, dict]) -> dict[str, Any]:
    """Each `reg` entry's regularizer, its arguments checked (cheap: no Keras)."""
    from src.models.regularizers import Regularizer

    made = {}
    for name, entry in reg.items():
        made[name] = call(entry, f"reg.{name}", {})
        if not isinstance(made[name], Regularizer):
            raise TargetError(f"reg.{name}._target_={entry['_target_']} returned "
                              f"{type(made[name]).__name__}, not a "
                              "src.models.regularizers.Regularizer")
    return made


def build(model: dict, reg: dict, info, dataset: str = "", fused_batchnorm: bool = False):
    """The configured model for the dataset `info` describes (its input shape and classes),
    with its regularizers; `dataset` names it in messages. `fused_batchnorm`: its batch
    normalization on TensorFlow's fused kernel (`trainer.fused_batchnorm`)."""
    import keras

    from src.models import sites

    name, input_shape, num_classes = model["name"], info.input_shape, info.num_classes
    node = {k: v for k, v in model.items() if k not in PROJECT_KEYS}
    builder = resolve(node, "model")
    for needed in ("input_shape", "num_classes"):
        if not accepts(builder, needed):
            raise TargetError(f"model._target_={node['_target_']} takes no {needed}: a builder "
                              "takes the dataset's input_shape and num_classes, then its own "
                              "settings")
    made = make_regularizers(reg)
    side = getattr(builder, "batchnorm_side", sites.BEFORE)
    fits = f"model={name} on dataset {dataset} ({'x'.join(map(str, input_shape))} images)"
    with sites.applying(made, side) as building:
        try:
            built = call(node, "model", {"input_shape": tuple(input_shape),
                                         "num_classes": num_classes})
        except ValueError as exc:  # Keras: a layer's output would have no size
            plain = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))  # Keras' bold text
            said = [line.strip() for line in plain.splitlines()
                    if line.strip() and not line.startswith("Exception encountered")]
            raise ConfigError(f"{fits} cannot be built ({said[0] if said else exc}): the "
                              "input is too small for it; choose a model for small images "
                              "(e.g. model=mlp or model=resnet) or larger images") from exc
    graph = [getattr(built, "inputs", None), getattr(built, "outputs", None)]
    if not isinstance(built, keras.Model) or not all(graph) or len(graph[1]) != 1:
        raise TargetError(f"model._target_={node['_target_']} returned "
                          f"{type(built).__name__}: a builder returns a functional model with "
                          "one output, keras.Model(inputs, outputs), whose layers can be read")
    inputs, output = graph[0][0] if len(graph[0]) == 1 else graph[0], graph[1][0]
    _check_shapes(built, output, fits, num_classes)
    for reg_name, regularizer in made.items():
        if regularizer.model is not None:
            building.fired[reg_name, "model"] += regularizer.model(built)
    _check_effect(made, building.fired, name)
    # TensorFlow opens a name scope with the model's name: ASCII letters, digits and _ . - only.
    scope_name = re.sub(r"[^A-Za-z0-9_.-]", "-", f"{name}_{reg_label(reg)}")
    built = keras.Model(inputs, output, name=scope_name)
    if fused_batchnorm:
        from src.models.fused_batchnorm import use_fused_kernel

        use_fused_kernel(built)
    return built


def _check_shapes(built, output, fits: str, num_classes: int) -> None:
    for layer in built.layers:
        shape = tuple(layer.output.shape)
        if any(dim == 0 for dim in shape):
            raise ConfigError(f"{fits} cannot be built (layer {layer.name} outputs {shape}): "
                              "the input is too small for it; choose a model for small images "
                              "(e.g. model=mlp or model=resnet) or larger images")
    if tuple(output.shape) != (None, num_classes):
        raise ConfigError(f"{fits}: the model outputs {tuple(output.shape)}, not one "
                          f"probability per class (None, {num_classes}); end the builder with "
                          "layers.Dense(num_classes, activation='softmax')")


def _check_effect(made: dict, fired, model_name: str) -> None:
    """A regularizer hook that found no place in this model is a setting with no effect."""
    for reg_name, regularizer in made.items():
        for place in regularizer.hooks():
            if fired[reg_name, place]:
                continue
            setting = regularizer.settings.get(place)
            what = f"reg.{reg_name}.{setting}" if setting else f"reg.{reg_name}"
            fix = f"set reg.{reg_name}.{setting.split('=')[0]}=0 or drop" if setting else "drop"
            raise ConfigError(f"{what} has no effect on model={model_name}: it has "
                              f"{PLACES[place]}; {fix} reg.{reg_name} (docs/extending.md)")


def check(model: dict, reg: dict, info, dataset: str = "", fused_batchnorm: bool = False) -> float:
    """Build the configured model once, to refuse what would not train before any run exists;
    returns what a training image costs it as the job trains it (`flops.training_cost`; the
    batchnorm kernel is part of that). Keras' session is cleared after, so the model a job then
    builds gets the names and seeds it always had."""
    from src.console import loading, quiet_startup
    from src.errors import BadInput

    with quiet_startup(expected=(BadInput,)):  # the first build probes the devices
        with loading():
            import keras

            from src.models import flops

        built = build(model, reg, info, dataset, fused_batchnorm)
        cost = flops.training_cost(built)
        keras.backend.clear_session()
    return cost


def kernels(model) -> dict[str, str]:
    """What its layers run on, where there is a choice, as run params."""
    from src.models import fused_batchnorm

    return {"batchnorm.kernel": fused_batchnorm.kernel(model)}


def parameter_counts(model) -> dict[str, int]:
    """All weights (BN's moving statistics included) and the trainable ones, as run params."""
    import numpy as np

    trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    return {"model.params": model.count_params(), "model.trainable_params": trainable}
