"""Bad input, as a user types it: one subprocess per case, single runs and sweeps alike.

Each must exit 1 with a message naming the key, file or server and saying what to do, print no
traceback, and leave nothing behind: no tracking store, and for a rejected config no output
directory and no TensorFlow, MLflow or Keras loaded.
"""

import gzip
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import cli_env, data_dir, free_port, imported, needs_data, run_cli, user_lines
from tests.datasets import write_cifar_archive, write_image_folder

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
         "t10k-labels-idx1-ubyte")
HEAVY = ("tensorflow", "keras", "mlflow", "jax")
MODES = pytest.mark.parametrize("mode", [(), ("-m",)], ids=["run", "sweep"])

REJECTED = [  # (overrides, what the message must say); ours are one line, Hydra's are not
    (("trainer.epochs=0",), "error: trainer.epochs=0 is invalid: it must be >= 1"),
    (("reg=dropout", "reg.dropout.conv=1.5"),
     "error: reg.dropout.conv=1.5 is invalid: it must be in [0, 1)"),
    (("seed=-1",), "error: seed=-1 is invalid"),
    (("dataset.val_size=60000",), "error: dataset.val_size=60000.0 is invalid"),
    (("tracking.experiment=${nowhere}",), "error: tracking.experiment: Interpolation key"),
    (("reg=foo",), "Available options in 'reg'"),
    (("optimizer.lr=abc",), "full_key: optimizer.lr"),
    (("trainer.epoch=3",), "Key 'epoch' not in 'TrainerConfig'"),
    (("+trainer.epoch=3",), "error: trainer.epoch is not a setting (did you mean trainer.epochs?)"),
    (("+foo=1",), "error: foo is not a setting; + adds keys only to a model's, loader's or "),
    (("optimizer.momentum=0.9",), "error: optimizer.momentum=0.9 is invalid: it must be 0 with "
                                  "optimizer=adam, which has no momentum"),
    (("dataset=npz",), "error: dataset.loader.path is missing: set it"),
]
SWEEP_REJECTED = [  # one bad value among good ones: no job may start
    (("trainer.epochs=1,0",),
     "error: sweep job #1 (trainer.epochs=0): trainer.epochs=0 is invalid"),
    (("reg=none,foo",), "sweep job #1 (reg=foo): In 'config': Could not find 'reg/foo'"),
    (("optimizer.lr=0.1,abc",), "sweep job #1 (optimizer.lr=abc): Error merging override"),
    (("experiment=fashion_lenet5", "reg=dropout", "reg.dropout.dense=0.5,1"),
     "error: sweep job #1 (experiment=fashion_lenet5 reg=dropout reg.dropout.dense=1): "
     "reg.dropout.dense=1 is invalid: it must be in [0, 1)"),
    (("dataset.val_size=100,60000",),
     "error: sweep job #1 (dataset.val_size=60000): dataset.val_size=60000.0 is invalid"),
    # an Optuna study: its space's extremes are composed and checked before any trial
    (("hparams_search=mnist_cnn", "reg.dropout.dense=interval(0.05,1.0)"),
     "error: search space: reg.dropout.dense=1.0 (an extreme of float [0.05, 1.0]): "
     "reg.dropout.dense=1.0 is invalid: it must be in [0, 1)"),
    (("hparams_search=mnist_cnn", "reg.dropout.dense=interval(0.0,1.0)"),
     "error: search space: its first values (optimizer=adam optimizer.lr=0.0001 reg=[dropout] "
     "reg.dropout.conv=0.0 trainer.batch_size=32 reg.dropout.dense=0.0): reg.dropout.conv=0.0 "
     "is invalid: it must be > 0, or dense > 0"),
    (("hparams_search=mnist_cnn", "optimizer.momentum=choice(0.0,0.9)"),
     "error: search space: optimizer.momentum=0.9 (an extreme of choice(0.0, 0.9)): "
     "optimizer.momentum=0.9 is invalid: it must be 0 with optimizer=adam"),
    (("hparams_search=fashion_lenet5", "seed=choice(0,1)"),
     "error: search space: seed=choice(0,1) is invalid: seed is never searched"),
    # seeds until decided: its design
    (("hydra/sweeper=until_decided", "reg=none,dropout"),
     "error: hydra/sweeper=until_decided adds seeds in rounds: give it a seed axis"),
    (("hydra/sweeper=until_decided", "reg=none,dropout", "seed=0,1",
      "hydra.sweeper.seeds_per_round=3"),
     "error: hydra.sweeper.seeds_per_round=3 is more than the 2 seeds of the seed axis: the "
     "maximum is below the first round"),
    (("hydra/sweeper=until_decided", "reg=none,dropout", "seed=0,1", "hydra.sweeper.alpha=1.5"),
     "error: hydra.sweeper.alpha=1.5 is invalid: it must be in (0, 1)"),
    (("hydra/sweeper=until_decided", "reg=none,dropout", "seed=0,1",
      "hydra.sweeper.baseline='reg=bn'"),
     "error: hydra.sweeper.baseline='reg=bn' is not a variant of this sweep; the variants: "
     "reg=none, reg=dropout"),
    (("hparams_search=mnist_cnn", "hydra.sweeper.seeds_per_trial=0"),
     "error: hydra.sweeper.seeds_per_trial=0 is invalid: it must be >= 1 (runs a trial trains"),
    (("reg=none,dropout", "hydra.launcher.jobs_per_gpu=0"),
     "error: hydra.launcher.jobs_per_gpu=0 is invalid: it must be a number of jobs sharing "
     "each GPU >= 1"),
    (("reg=none,dropout", "hydra.launcher.workers=129"),
     "error: hydra.launcher.workers=129: the SQLite store sqlite:///"),
]


# Runs argv[2:] and writes its peak RSS (KB) to argv[1]. A child's ru_maxrss includes its
# parent's memory at the fork, and pytest's own is large once a test has loaded TensorFlow.
PEAK_RSS = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
open(sys.argv[1], "w").write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def launch(*args: str, cwd: Path, **env: str) -> tuple[subprocess.CompletedProcess, int]:
    """`python -X importtime -m src.train args`, and its peak resident memory in MB."""
    command = [sys.executable, "-X", "importtime", "-m", "src.train", *args]
    with tempfile.TemporaryDirectory() as scratch:
        peak = Path(scratch) / "peak_rss_kb"
        result = subprocess.run([sys.executable, "-c", PEAK_RSS, str(peak), *command], cwd=cwd,
                                env=cli_env(**env), capture_output=True, text=True, timeout=600)
        return result, int(peak.read_text()) // 1024


def assert_rejected(result, message: str) -> None:
    said = user_lines(result.stderr)
    assert result.returncode == 1, said[-2000:]
    assert message.removeprefix("error: ") in said, said[-2000:]
    assert "Traceback" not in said
    assert not result.stdout.strip(), result.stdout
    if message.startswith("error: "):  # the project's own check: exactly one line
        assert said.startswith("error: ")
        assert said.strip() == said.strip().splitlines()[0], said


@MODES
@pytest.mark.parametrize(("overrides", "message"), REJECTED, ids=[o[0] for o, _ in REJECTED])
def test_a_rejected_config_answers_in_one_message_and_touches_nothing(tmp_path, mode, overrides,
                                                                      message):
    result, _ = launch(*mode, *overrides, cwd=tmp_path)
    assert_rejected(result, message)
    assert list(tmp_path.iterdir()) == [], "a rejected config created files"
    assert not imported(result.stderr) & set(HEAVY)


@pytest.mark.parametrize(("overrides", "message"), SWEEP_REJECTED,
                         ids=[" ".join(o) for o, _ in SWEEP_REJECTED])
def test_a_sweep_with_one_bad_value_launches_no_job(tmp_path, overrides, message):
    result, _ = launch("-m", *overrides, cwd=tmp_path)
    assert_rejected(result, message)
    assert list(tmp_path.iterdir()) == [], "a rejected sweep created files"
    assert not imported(result.stderr) & set(HEAVY)


def test_a_rejected_config_costs_no_more_than_a_few_dozen_megabytes(tmp_path):
    result, peak_mb = launch("trainer.epochs=0", cwd=tmp_path)
    assert result.returncode == 1
    assert peak_mb < 150, f"{peak_mb} MB: something heavy was loaded"


def test_hydra_full_error_shows_the_traceback(tmp_path):
    result, _ = launch("trainer.epochs=0", cwd=tmp_path, HYDRA_FULL_ERROR="1")
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "ConfigError" in result.stderr


def broken_copy(tmp_path: Path, damage: str) -> Path:
    """A data dir holding MNIST with one file damaged: truncated, corrupt, or missing."""
    folder = tmp_path / "data" / "mnist"
    shutil.copytree(Path(data_dir()) / "mnist", folder)
    labels = folder / "t10k-labels-idx1-ubyte.gz"
    if damage == "truncated":
        labels.write_bytes(labels.read_bytes()[:1000])
    elif damage == "corrupt":
        raw = bytearray(gzip.decompress(labels.read_bytes()))
        raw[100] = (raw[100] + 1) % 10  # one flipped label: valid gzip, wrong content
        labels.write_bytes(gzip.compress(bytes(raw)))
    else:
        labels.unlink()
    return folder.parent


@needs_data
@pytest.mark.slow  # each reads and checksums the 60,000 images
@MODES
@pytest.mark.parametrize(("damage", "message"), [
    ("truncated", "t10k-labels-idx1-ubyte.gz: not a readable gzip file"),
    ("corrupt", "t10k-labels-idx1-ubyte.gz: SHA-256 of the uncompressed data is"),
    ("missing", "holds only part of mnist; missing: "),
])
def test_bad_data_is_named_before_any_run_exists(tmp_path, mode, damage, message):
    broken = broken_copy(tmp_path, damage)
    work = tmp_path / "work"
    work.mkdir()
    result, _ = launch(*mode, f"dataset.data_dir={broken}", cwd=work)
    assert_rejected(result, message)
    assert not (work / "mlflow.db").exists() and not (work / "mlruns").exists()


def bad_input(tmp_path: Path, case: str) -> list[str]:
    """The overrides of a dataset or model that cannot train, as a user would type them."""
    if case == "empty folder":
        (tmp_path / "pets").mkdir()
        return ["dataset=folder", f"dataset.loader.path={tmp_path / 'pets'}"]
    if case == "one class":
        write_image_folder(tmp_path / "pets", classes=("cat",))
        return ["dataset=folder", f"dataset.loader.path={tmp_path / 'pets'}"]
    if case == "mixed sizes":
        write_image_folder(tmp_path / "pets")
        write_image_folder(tmp_path / "pets", classes=("dog",), per_class=1, size=(9, 9))
        return ["dataset=folder", f"dataset.loader.path={tmp_path / 'pets'}"]
    if case == "corrupt archive":
        write_cifar_archive(tmp_path / "data" / "cifar10", per_batch=2, test=2)
        return ["dataset=cifar10", f"dataset.data_dir={tmp_path / 'data'}"]
    if case == "too deep":
        return ["dataset=digits", "model=cnn"]
    return ["dataset=digits", "model=mlp", "+model.unit=[64]"]  # a builder argument misspelt


# Checked where the data is read or the model is built: after Keras loads for some, but before
# any MLflow run (a sweep: before its parent run) exists.
BAD_DATA_OR_MODEL = [
    ("empty folder", "pets: .*pets holds no class sub-folders with images"),
    ("one class", r"pets: one class \(cat\); a classifier needs two or more"),
    ("mixed sizes", r"images of mixed sizes \(.* is 16x16, .* 9x9\); resize them"),
    ("corrupt archive", r"cifar-10-python\.tar\.gz: SHA-256 is [0-9a-f]+, expected 6d958be0"),
    ("too deep", r"model=cnn on dataset digits \(8x8x1 images\) cannot be built \(Computed "
                 r"output size would be zero or negative"),
    ("misspelt argument", r"model\.unit: src\.models\.mlp\.mlp takes no argument 'unit' "
                          r"\(did you mean units\?\)"),
]


@pytest.mark.slow  # Keras loads for most: ~9 s each
@MODES
@pytest.mark.parametrize(("case", "message"), BAD_DATA_OR_MODEL,
                         ids=[case for case, _ in BAD_DATA_OR_MODEL])
def test_data_or_a_model_that_cannot_train_is_named_in_one_line_before_any_run(
        tmp_path, mode, case, message):
    overrides = bad_input(tmp_path, case)
    work = tmp_path / "work"
    work.mkdir()
    result, _ = launch(*mode, *overrides, cwd=work)
    said = user_lines(result.stderr).strip()
    assert result.returncode == 1, said[-2000:]
    assert re.fullmatch(f"error: (sweep job #0 \\(.*\\): )?.*{message}.*", said), said[-2000:]
    assert "Traceback" not in said and "\n" not in said
    assert not (work / "mlflow.db").exists() and not (work / "mlruns").exists()


@MODES
def test_an_unreachable_server_is_named_before_anything_starts(tmp_path, mode):
    uri = f"http://127.0.0.1:{free_port()}"
    result = run_cli("src.train", *mode, "trainer.epochs=1", cwd=tmp_path, timeout=300,
                     MLFLOW_TRACKING_URI=uri)
    assert_rejected(result, f"error: MLflow tracking server {uri} is unreachable")
    assert "mlflow server" in result.stderr and "MLFLOW_TRACKING_URI" in result.stderr
    assert not (tmp_path / "multirun").exists()
