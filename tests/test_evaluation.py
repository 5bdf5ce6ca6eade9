"""Scoring a trained model: test-time augmentation over mirrored and shifted views, and the
averaged weights of Keras' optimizer EMA, down to the model a run logs."""

from pathlib import Path

import keras
import mlflow
import numpy as np
import pytest

from src import evaluation, trainer
from src.config import Config, TrainerConfig
from src.errors import ConfigError
from src.train import train_config
from tests.test_trainer import tiny_splits


def softmax(model, x, tta: str) -> np.ndarray:
    return evaluation.average(evaluation.predictions(model, x, tta, batch_size=32))


def test_the_views_are_the_image_its_mirror_and_both_moved_a_pixel_each_way():
    x = np.zeros((1, 28, 28, 1), dtype="float32")
    x[0, 5, 7, 0] = 1.0
    lit = [tuple(np.argwhere(view[0, :, :, 0])[0]) for view in evaluation.views(x, "flip+shift")]
    assert lit == [(5, 7), (5, 20), (6, 8), (4, 6), (6, 21), (4, 19)]
    assert len(evaluation.views(x, "flip")) == 2 and evaluation.views(x, "none")[0] is x


@pytest.mark.parametrize("tta", ["flip", "flip+shift"])
def test_a_test_set_and_its_mirror_image_score_the_same_under_tta(built, tta):
    keras.utils.set_random_seed(0)
    model = built("model=cnn")
    x = tiny_splits(64).x_train
    mirror = x[:, :, ::-1, :]
    assert not np.allclose(softmax(model, x, "none"), softmax(model, mirror, "none"), atol=1e-6)
    np.testing.assert_allclose(softmax(model, x, tta), softmax(model, mirror, tta), atol=1e-7)


def test_a_model_that_mirrors_its_input_scores_as_the_model_under_flip_tta(built):
    keras.utils.set_random_seed(0)
    model = built("model=cnn")
    mirrored = keras.Sequential([keras.Input((28, 28, 1)),
                                 keras.layers.Lambda(lambda t: keras.ops.flip(t, axis=2)), model])
    splits = tiny_splits(64)
    plain = [trainer.evaluate(m, splits, 32) for m in (model, mirrored)]
    tta = [trainer.evaluate(m, splits, 32, "flip") for m in (model, mirrored)]
    assert not np.allclose(plain[0].probabilities, plain[1].probabilities, atol=1e-6)
    np.testing.assert_allclose(tta[0].probabilities, tta[1].probabilities, atol=1e-7)
    assert tta[0].test_accuracy == tta[1].test_accuracy
    assert tta[0].plain_accuracy == plain[0].test_accuracy and plain[0].plain_accuracy is None


class Averages(keras.callbacks.Callback):
    """The optimizer's moving average and the trained weights at the end of each epoch."""

    def on_epoch_end(self, epoch, logs=None):
        self.average = [v.numpy() for v in self.model.optimizer._model_variables_moving_average]
        self.trained = [v.numpy() for v in self.model.trainable_variables]


def test_with_ema_fit_leaves_the_averaged_weights_and_validation_scores_them(built):
    keras.utils.set_random_seed(0)
    model, seen = built("model=cnn"), Averages()
    cfg = Config(trainer=TrainerConfig(epochs=2, verbose=0, ema=True, ema_momentum=0.9))
    history = trainer.fit(model, tiny_splits(), cfg, [seen]).history
    for weights, average, trained in zip(model.trainable_variables, seen.average, seen.trained,
                                         strict=True):
        np.testing.assert_array_equal(weights.numpy(), average)
        assert not np.array_equal(average, trained)
    splits = tiny_splits()
    final = evaluation.accuracy(softmax(model, splits.x_val, "none"), splits.y_val)
    assert history["val_accuracy"][-1] == final  # scored with the average, as the model ends
    assert len(history["val_accuracy_plain"]) == 2  # Keras' own, with the trained weights


def test_tta_and_ema_are_refused_out_of_range_in_one_line(compose):
    with pytest.raises(ConfigError, match=r"trainer.tta='flip' is invalid: it must be none on "
                                          r"mnist \(dataset.flippable=false"):
        compose("trainer.tta=flip")
    with pytest.raises(ConfigError, match="none or flip or flip\\+shift"):
        compose("dataset=fashion_mnist", "trainer.tta=mirror")
    with pytest.raises(ConfigError, match="trainer.ema_momentum=1.0 is invalid"):
        compose("trainer.ema=true", "trainer.ema_momentum=1.0")


@pytest.mark.slow
def test_a_run_with_tta_and_ema_logs_both_accuracies_and_the_averaged_model(compose, synthetic,
                                                                            tmp_path, sqlite_uri):
    uri = sqlite_uri
    cfg = compose(*synthetic, "dataset.flippable=true", "trainer.tta=flip", "trainer.ema=true",
                  "trainer.epochs=2", "dataset.train_limit=1000", f"tracking.uri={uri}",
                  "tracking.system_metrics=false")
    seen = Averages()
    train_config(cfg, tmp_path / "job", callbacks=[seen])
    client = mlflow.MlflowClient(uri)
    [run] = client.search_runs([client.get_experiment_by_name("synthetic-cnn").experiment_id])
    assert {"test_accuracy", "test_accuracy_plain", "val_accuracy_plain"} <= set(run.data.metrics)
    assert run.data.params["trainer.tta"] == "flip" and run.data.params["trainer.ema"] == "True"
    mlflow.set_tracking_uri(uri)
    local = mlflow.artifacts.download_artifacts(
        f"models:/{run.outputs.model_outputs[0].model_id}", dst_path=str(tmp_path / "model"))
    [path] = Path(local).rglob("*.keras")
    logged = keras.saving.load_model(path, safe_mode=True)
    for weights, average in zip(logged.trainable_variables, seen.average, strict=True):
        np.testing.assert_array_equal(weights.numpy(), average)
