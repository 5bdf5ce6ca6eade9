"""Augmentation: what each choice applies, to training batches only, new draws every batch and
epoch, all fixed by the seed; on the JAX backend too."""

import keras
import numpy as np
import pytest
from mlflow import MlflowClient

from src import trainer
from src.augment import augmenter
from src.config import AugmentConfig, Config, DatasetConfig, TrainerConfig
from src.data import Splits
from tests.conftest import needs_data, run_cli


def layer_kinds(cfg: AugmentConfig) -> list[str]:
    return [type(layer).__name__ for layer in augmenter(cfg).layers]


def test_none_adds_nothing_and_each_preset_its_transforms_in_order(compose):
    assert augmenter(compose().augment) is None
    assert layer_kinds(compose("augment=digits").augment) == ["RandomTranslation",
                                                              "RandomRotation"]
    clothes = compose("dataset=fashion_mnist", "augment=clothes").augment
    assert layer_kinds(clothes) == ["RandomTranslation", "RandomFlip"]
    erasing = compose("dataset=fashion_mnist", "augment=clothes", "augment.erasing=0.25").augment
    assert layer_kinds(erasing) == ["RandomTranslation", "RandomFlip", "RandomErasing"]


def numbered_images(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Image i is a left-right asymmetric pattern whose brightness encodes i (its label)."""
    ramp = np.linspace(0.0, 1.0, 28, dtype="float32")[None, None, :, None]
    labels = np.arange(n)
    brightness = ((labels + 1) / n).astype("float32")[:, None, None, None]
    return np.broadcast_to(ramp, (n, 28, 28, 1)) * brightness, labels


def augmented_epochs(seed: int, cfg: AugmentConfig, epochs: int = 2, n: int = 16) -> list[dict]:
    """Each epoch's augmented training images, by label, as the pipeline hands them to fit."""
    keras.utils.set_random_seed(seed)
    x, y = numbered_images(n)
    pipeline = trainer.reshuffled_batches(x, y, 8, augmenter(cfg))
    return [{int(label): image for xb, yb in pipeline
             for image, label in zip(xb.numpy(), yb.numpy(), strict=True)}
            for _ in range(epochs)]


def test_flips_mirror_about_half_the_images_and_keep_each_with_its_label():
    x, _ = numbered_images(16)
    flipped = 0
    for epoch in augmented_epochs(0, AugmentConfig(horizontal_flip=True)):
        for label, image in epoch.items():
            mirrored = np.array_equal(image, x[label][:, ::-1])
            assert mirrored or np.array_equal(image, x[label])
            flipped += mirrored
    assert 8 <= flipped <= 24  # of 32 images: a fair coin each time


def test_transforms_are_new_every_epoch_and_repeat_with_the_seed():
    shifts = AugmentConfig(shift=0.2, rotation=10.0)
    first, again, other = (augmented_epochs(seed, shifts) for seed in (0, 0, 1))
    assert not np.allclose(first[0][3], first[1][3])  # the same image, drawn anew next epoch
    for epoch, repeated, reseeded in zip(first, again, other, strict=True):
        assert all(np.array_equal(epoch[label], repeated[label]) for label in epoch)
        assert not all(np.array_equal(epoch[label], reseeded[label]) for label in epoch)


def test_erasing_blanks_a_patch_of_some_images_only():
    x, _ = numbered_images(128)
    changed = [np.mean(image != x[label])
               for epoch in augmented_epochs(0, AugmentConfig(erasing=0.5), n=128)
               for label, image in epoch.items()]
    erased = [share for share in changed if share > 0]
    assert 0.3 < len(erased) / len(changed) < 0.7
    assert all(share <= 0.25 for share in erased)  # a patch, at most 20 % of the image (+ edge)


def test_validation_and_test_data_are_never_augmented(built):
    """fit's augmented pipeline is for training batches; validation goes in as arrays and the
    model itself holds no random layer, so evaluation and the logged model see real images."""
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, 64)
    splits = Splits(x, y, x[:32], y[:32], x[:32], y[:32], [str(d) for d in range(10)], "random")
    cfg = Config(dataset=DatasetConfig(name="fashion_mnist"),
                 augment=AugmentConfig(shift=0.2, horizontal_flip=True, erasing=1.0),
                 trainer=TrainerConfig(epochs=1, verbose=0, batch_size=32))

    model = built("model=cnn")
    history = trainer.fit(model, splits, cfg, [])
    # The epoch's validation loss is the loss of the unchanged validation images.
    val_loss = model.evaluate(splits.x_val, splits.y_val, batch_size=32, verbose=0)[0]
    assert history.history["val_loss"][-1] == pytest.approx(val_loss, rel=1e-5)
    assert not any("Random" in type(layer).__name__ for layer in model.layers)


@needs_data
@pytest.mark.slow
def test_an_augmented_smoothed_cosine_run_trains_on_jax(tmp_path, sqlite_uri):
    uri = sqlite_uri
    result = run_cli("src.train", "dataset=fashion_mnist", "augment=clothes", "schedule=cosine",
                     "optimizer=adamw", "trainer.label_smoothing=0.1", "trainer.epochs=2",
                     "trainer.batch_size=64", "dataset.train_limit=1024",
                     "tracking.log_model=false", cwd=tmp_path, KERAS_BACKEND="jax",
                     MLFLOW_TRACKING_URI=uri)
    assert result.returncode == 0, result.stderr[-3000:]
    client = MlflowClient(uri)
    run = client.search_runs([client.get_experiment_by_name("fashion_mnist-cnn").experiment_id])[0]
    assert run.data.params["augment.name"] == "clothes"
    assert run.data.params["schedule.name"] == "cosine"
    assert run.data.metrics["test_accuracy"] > 0.2  # above chance (0.1) after 2 short epochs
