"""Batch normalization on TensorFlow's fused kernel is Keras' layer in one op: the same
outputs, gradients and moving statistics within float rounding, saved as Keras' layer,
recorded on every run, and switched off by `trainer.fused_batchnorm=false`."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from src import models
from src.models.fused_batchnorm import FusedBatchNormalization
from src.tracking import identity
from tests.conftest import MNIST


def training_step(layer, optimizer, inputs, upstream) -> dict[str, np.ndarray]:
    """One SGD step of the layer alone, in training mode, under the loss sum(outputs *
    upstream): what it output, the gradients it took, the statistics it then holds."""
    with tf.GradientTape() as tape:
        x = tf.constant(inputs)
        tape.watch(x)
        outputs = layer(x, training=True)
        loss = tf.reduce_sum(outputs * upstream)
    grad_x, grad_gamma, grad_beta = tape.gradient(loss, [x, layer.gamma, layer.beta])
    optimizer.apply([grad_gamma, grad_beta], [layer.gamma, layer.beta])
    return {"outputs": outputs.numpy(), "grad_x": grad_x.numpy(), "grad_gamma": grad_gamma.numpy(),
            "grad_beta": grad_beta.numpy(), "moving_mean": layer.moving_mean.numpy(),
            "moving_variance": layer.moving_variance.numpy()}


@pytest.mark.parametrize("shape", [(32, 13, 13, 16), (32, 64)])  # after a conv; after a dense
def test_the_fused_kernel_trains_as_keras_layer_does(shape):
    keras_layer, fused_layer = keras.layers.BatchNormalization(), FusedBatchNormalization()
    for layer in (keras_layer, fused_layer):
        layer.build(shape)
    optimizers = [keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1)]
    rng = np.random.default_rng(0)
    for _ in range(5):
        inputs = np.maximum(rng.normal(0.5, 1.0, shape), 0).astype(np.float32)  # after a ReLU
        inputs[..., :3] = 0  # and some channels dead for the whole batch
        upstream = rng.normal(size=shape).astype(np.float32)
        expected, actual = (training_step(layer, optimizer, inputs, upstream)
                            for layer, optimizer in zip((keras_layer, fused_layer), optimizers,
                                                        strict=True))
        for name, value in expected.items():
            # Float32 sums over a channel's values, in another order: ~1e-6 of their scale.
            np.testing.assert_allclose(actual[name], value, rtol=1e-4,
                                       atol=1e-5 * np.abs(value).max(), err_msg=name)
    images = rng.random(shape, dtype=np.float32)
    expected = keras_layer(images, training=False).numpy()
    np.testing.assert_allclose(fused_layer(images, training=False), expected, rtol=1e-4,
                               atol=1e-5 * np.abs(expected).max())


def test_a_model_builds_with_the_same_weights_and_names_either_way(compose):
    cfg = compose("reg=batchnorm")
    pair = []
    for fused in (False, True):  # each as a job builds it: a fresh session, seed 0
        keras.backend.clear_session()
        keras.utils.set_random_seed(0)
        pair.append(models.build(cfg.model, cfg.reg, MNIST, "mnist", fused))
    kinds = [[type(layer) for layer in model.layers if "batch_normalization" in layer.name]
             for model in pair]
    assert kinds == [[keras.layers.BatchNormalization] * 3, [FusedBatchNormalization] * 3]
    for a, b in zip(*(model.weights for model in pair), strict=True):
        assert a.path == b.path
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_a_saved_model_holds_keras_layer_and_predicts_the_same(built, tmp_path):
    model = built("reg=batchnorm")
    images = np.random.default_rng(1).random((8, 28, 28, 1), dtype=np.float32)
    from src.models.fused_batchnorm import keras_layers

    with keras_layers(model):
        model.save(tmp_path / "model.keras")
    assert sum(isinstance(layer, FusedBatchNormalization) for layer in model.layers) == 3
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    kinds = {type(layer) for layer in loaded.layers if "batch_normalization" in layer.name}
    assert kinds == {keras.layers.BatchNormalization}
    np.testing.assert_allclose(loaded.predict(images, verbose=0),
                               model.predict(images, verbose=0), rtol=1e-5, atol=1e-7)


def test_every_run_records_its_kernel_and_one_switch_brings_keras_layer_back(built):
    assert models.kernels(built("reg=batchnorm")) == {"batchnorm.kernel": "FusedBatchNormV3"}
    assert models.kernels(built("reg=batchnorm", "trainer.fused_batchnorm=false")) == {
        "batchnorm.kernel": "keras"}
    assert models.kernels(built("reg=none")) == {"batchnorm.kernel": "none"}


def test_the_switch_leaves_the_config_hash_so_earlier_runs_are_skipped(compose):
    # Runs logged before the fused kernel computed with Keras' layer: they are the same config.
    assert (identity.config_hash(compose("reg=batchnorm", "trainer.fused_batchnorm=false"))
            == identity.config_hash(compose("reg=batchnorm")))
