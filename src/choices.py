"""The options of each config group, one enum per group, and the table that lists them.

Each option is a file conf/<group>/<option>.yaml (tests/test_config.py holds the two together);
the schema in src/config.py types every `name` key with these enums, so `model=vit` fails at
composition naming the options that exist.
"""

from enum import Enum


class Choice(str, Enum):
    """An option of a config group; prints as its value (`cnn`, not `ModelName.cnn`)."""

    def __str__(self) -> str:
        return self.value


class DatasetName(Choice):
    mnist = "mnist"
    fashion_mnist = "fashion_mnist"


class ModelName(Choice):
    cnn = "cnn"
    mlp = "mlp"
    lenet5 = "lenet5"
    vgg = "vgg"


class RegName(Choice):
    none = "none"
    dropout = "dropout"
    batchnorm = "batchnorm"


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


# The config groups: `reg=dropout` loads conf/reg/dropout.yaml, which sets `reg.name: dropout`.
CHOICES: dict[str, type[Choice]] = {
    "dataset": DatasetName, "model": ModelName, "reg": RegName, "optimizer": OptimizerName,
    "augment": AugmentName, "schedule": ScheduleName,
}


class Split(Choice):
    last = "last"  # the last `val_size` training images (MNIST notebook)
    random = "random"  # shuffled with `split_seed` (homework: 80/20, random_state=42)


class BNPlacement(Choice):
    before_activation = "before_activation"  # conv -> BN -> relu (homework LeNet-5)
    after_activation = "after_activation"  # conv+relu -> BN (MNIST notebook)


class Precision(Choice):
    float32 = "float32"  # the notebooks' math
    mixed_bfloat16 = "mixed_bfloat16"  # bfloat16 compute, float32 weights: faster on AMX CPUs
