"""A small residual network (He et al., 2016, the CIFAR variant): a 3x3 stem, stages of
residual blocks whose first block halves the resolution from the second stage on, global
average pooling and a softmax classifier. Width and depth come from its YAML; it is meant to be
trained with reg=batchnorm (BN after each conv, before the addition and the ReLU)."""

import keras
from keras import layers

from src.models.sites import block, features, hidden, normalized


def resnet(input_shape: tuple, num_classes: int, widths: tuple = (16, 32, 64),
           blocks_per_stage: int = 2) -> keras.Model:
    """widths (16, 32, 64) with 2 blocks a stage: 174,698 params on 32x32x3 (176,938 with
    batchnorm); 3 blocks a stage is the depth of the paper's ResNet-20 (271,690 params here,
    with 1x1 projection shortcuts where the paper pads with zeros)."""
    inputs = keras.Input(input_shape)
    x = hidden(layers.Conv2D(widths[0], 3, padding="same"), inputs)
    for stage, width in enumerate(widths):
        for index in range(blocks_per_stage):
            stride = 2 if stage > 0 and index == 0 else 1
            shortcut = x
            if stride != 1 or x.shape[-1] != width:  # project to the new shape
                shortcut = normalized(layers.Conv2D(width, 1, strides=stride), x)
            y = hidden(layers.Conv2D(width, 3, strides=stride, padding="same"), x)
            x = hidden(layers.Conv2D(width, 3, padding="same"), y, residual=shortcut)
        x = block(x)
    x = features(layers.GlobalAveragePooling2D()(x))
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)
