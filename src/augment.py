"""Training-time augmentation: Keras' preprocessing layers, applied to each training batch in
the input pipeline, so validation, test and the logged model never see them.

Keras runs these layers inside a tf.data pipeline on any backend (TensorFlow or JAX); their
random draws come from `keras.utils.set_random_seed`, so a seed fixes every epoch's transforms
while each batch and each epoch still gets new ones.
"""

from typing import Optional

from keras import layers

from src.config import AugmentConfig

ERASED_AREA = (0.02, 0.2)  # a patch of 2-20 % of the image, as in the random erasing paper


def augmenter(cfg: AugmentConfig) -> Optional[layers.Pipeline]:
    """The configured transforms in order (shift, rotate, flip, erase); None for none."""
    steps = []
    if cfg.shift:
        steps.append(layers.RandomTranslation(cfg.shift, cfg.shift, fill_mode="constant"))
    if cfg.rotation:  # Keras takes the angle as a fraction of a full turn
        steps.append(layers.RandomRotation(cfg.rotation / 360, fill_mode="constant"))
    if cfg.horizontal_flip:
        steps.append(layers.RandomFlip("horizontal"))
    if cfg.erasing:  # factor (p, p): each image erased with probability p
        steps.append(layers.RandomErasing(factor=(cfg.erasing, cfg.erasing), scale=ERASED_AREA,
                                          value_range=(0, 1)))
    # Pipeline, not Sequential: Keras runs a Pipeline's layers in tf.data on any backend.
    return layers.Pipeline(steps, name="augment") if steps else None
