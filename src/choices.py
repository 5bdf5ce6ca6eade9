"""The config groups, and the options of those that stay closed.

`dataset`, `model` and `reg` are open: their options are the YAML files in conf/ (and in any
config dir you add to Hydra's search path), each naming the code it runs with `_target_`. The
other groups choose among what the trainer implements, so the schema types their `name` with
these enums: `optimizer=rmsprop` fails at composition naming the options that exist.
"""

from enum import Enum

GROUPS = ("dataset", "model", "reg", "optimizer", "augment", "schedule")


class Choice(str, Enum):
    """An option of a config group; prints as its value (`adam`, not `OptimizerName.adam`)."""

    def __str__(self) -> str:
        return self.value


class OptimizerName(Choice):
    adam = "adam"
    sgd = "sgd"
    adamw = "adamw"


class AugmentName(Choice):
    none = "none"
    digits = "digits"  # small shifts and rotations; never flips (a mirrored 2 is no digit)
    clothes = "clothes"  # shifts and horizontal flips (random erasing on request)


class ScheduleName(Choice):
    constant = "constant"
    cosine = "cosine"
    onecycle = "onecycle"


# The closed groups: `optimizer=sgd` loads conf/optimizer/sgd.yaml, which sets `name: sgd`.
CLOSED: dict[str, type[Choice]] = {
    "optimizer": OptimizerName, "augment": AugmentName, "schedule": ScheduleName,
}


class Split(Choice):
    last = "last"  # the last `val_size` training images (MNIST notebook)
    random = "random"  # shuffled with `split_seed` (homework: 80/20, random_state=42)


class Precision(Choice):
    float32 = "float32"  # the notebooks' math
    mixed_bfloat16 = "mixed_bfloat16"  # bfloat16 compute, float32 weights: faster on AMX CPUs
