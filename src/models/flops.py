"""What one training image costs a built model: multiply-adds from its layers' shapes, and a
measured proxy for the work that FLOPs do not count.

Conv2D and Dense cost their multiply-adds forward, and about twice that backward (the weight
and the input gradient). On a CPU at batch 32 the rest is not free, and often dearer: every
value through an activation, pooling or dropout layer costs about 120 multiply-adds' time (it is
memory-bound), one through batch normalization about 190 on the fused kernel (the default) and
300 on Keras' unfused layer, and each image pays a fixed share of the per-batch Python and
kernel launches (2.1 M). The constants are fitted by `benchmarks/cost_model.py` on a 2-core CPU
(BENCHMARKS.md, "What a job costs": within ~20 % for every model but LeNet-5's 5x5 convs, which
run about twice as long as counted); only their ratios matter, to order and pack a sweep's jobs."""

from collections.abc import Iterator

MAC_PER_TRAINING_STEP = 3.0  # forward + weight gradient + input gradient
BATCHNORM_VALUE = 304.0  # one value through Keras' BatchNormalization, forward and backward
FUSED_BATCHNORM_VALUE = 191.0  # one value through the fused kernel (src.models.fused_batchnorm)
OTHER_VALUE = 119.0  # one value through an activation, pooling, dropout or addition, in MACs
PER_IMAGE = 2_080_000.0  # the per-image share of each step's fixed work, in MACs


def _layers(model) -> Iterator:
    for layer in model._flatten_layers(include_self=False):  # nested models too
        if not layer._flatten_layers(include_self=False, recursive=False):  # leaves only
            yield layer


def _values(layer) -> int:
    """Values per image in the layer's output."""
    size = 1
    for dim in tuple(layer.output.shape)[1:]:
        size *= dim or 1
    return size


def forward_macs(model) -> int:
    """Multiply-adds per image of every Conv2D, DepthwiseConv2D and Dense layer."""
    total = 0
    for layer in _layers(model):
        kind = type(layer).__name__
        if kind in ("Conv2D", "DepthwiseConv2D", "Dense"):
            # Each output value sums over the kernel's window: (height, width, inputs) for a
            # conv, (inputs,) for a dense layer, (height, width) for a depthwise conv.
            window = layer.kernel.shape[:-2 if kind == "DepthwiseConv2D" else -1]
            macs = _values(layer)
            for dim in window:
                macs *= dim
            total += macs
    return total


def breakdown(model) -> dict[str, int]:
    """What one image does in the model: multiply-adds, and the values that pass through
    batch normalization (Keras' layer, the fused kernel) and every other layer without
    weights."""
    counts = {"macs": forward_macs(model), "batchnorm_values": 0, "fused_batchnorm_values": 0,
              "other_values": 0}
    for layer in _layers(model):
        kind = type(layer).__name__
        if kind == "BatchNormalization":
            counts["batchnorm_values"] += _values(layer)
        elif kind == "FusedBatchNormalization":
            counts["fused_batchnorm_values"] += _values(layer)
        elif kind not in ("Conv2D", "DepthwiseConv2D", "Dense", "InputLayer"):
            counts["other_values"] += _values(layer)
    return counts


def training_cost(model) -> float:
    """One training image's cost, in multiply-add equivalents."""
    counts = breakdown(model)
    return (MAC_PER_TRAINING_STEP * counts["macs"] + BATCHNORM_VALUE * counts["batchnorm_values"]
            + FUSED_BATCHNORM_VALUE * counts["fused_batchnorm_values"]
            + OTHER_VALUE * counts["other_values"] + PER_IMAGE)


def inference_cost(model) -> float:
    """One validation or test image's cost: the forward pass, about a third of a step."""
    return training_cost(model) / MAC_PER_TRAINING_STEP
