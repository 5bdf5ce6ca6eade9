"""The training path runs on Keras' JAX backend with no TensorFlow installed (GPU hosts)."""

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, cli_env, data_dir

pytest.importorskip("jax", reason="install the `jax` extra: pip install -e '.[jax]'")

SCRIPT = """
import sys
from src import data, models, trainer
from src.config import DatasetConfig, ModelConfig, OptimizerConfig, RegConfig, TrainerConfig
splits = data.load(DatasetConfig(data_dir=sys.argv[1], train_limit=256, val_size=500))
model = models.build(ModelConfig("cnn"), RegConfig())
cfg = TrainerConfig(epochs=2, batch_size=64, verbose=0, data_on_device=True)
history = trainer.fit(model, splits, cfg, OptimizerConfig(), [])
print(trainer.device(), len(history.history["val_accuracy"]), "tensorflow" in sys.modules)
"""


@pytest.mark.slow
@pytest.mark.skipif(data_dir() is None, reason="set DATA_DIR to the IDX files")
def test_training_runs_on_jax_with_tensorflow_unimportable(tmp_path):
    blocked = tmp_path / "tensorflow"
    blocked.mkdir()
    (blocked / "__init__.py").write_text("raise ImportError('tensorflow is blocked by this test')")
    env = cli_env(KERAS_BACKEND="jax")
    env["PYTHONPATH"] = f"{tmp_path}{os.pathsep}{ROOT}"
    out = subprocess.run([sys.executable, "-c", SCRIPT, data_dir()], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "keras backend jax" in out.stdout
    assert out.stdout.split()[-2:] == ["2", "False"]
