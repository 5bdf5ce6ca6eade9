"""What a run prints: its MLflow run, Keras' line per epoch, its result; start-up chatter only
when asked for."""

import gc
import importlib
import os
import re
import subprocess
import sys
from unittest import mock

import pytest
from mlflow import MlflowClient

from src import console
from tests.conftest import ROOT, cli_env, run_cli


def test_start_up_chatter_is_held_back(capfd, monkeypatch):
    monkeypatch.delenv(console.VERBOSE_ENV, raising=False)
    with console.quiet_startup():
        os.write(2, b"I0000 port.cc:153] oneDNN custom operations are on\n")
    assert capfd.readouterr().err == ""


def failing_start_up() -> None:
    with console.quiet_startup():
        os.write(2, b"E0000 the reason it failed\n")
        raise ImportError("libcudart.so.12: cannot open shared object file")


def test_held_back_lines_are_shown_when_start_up_fails(capfd, monkeypatch):
    monkeypatch.delenv(console.VERBOSE_ENV, raising=False)
    with pytest.raises(ImportError):
        failing_start_up()
    assert capfd.readouterr().err == "E0000 the reason it failed\n"


def test_verbose_mode_holds_nothing_back(capfd, monkeypatch):
    monkeypatch.setenv(console.VERBOSE_ENV, "1")
    with console.quiet_startup():
        os.write(2, b"I0000 oneDNN\n")
    assert capfd.readouterr().err == "I0000 oneDNN\n"


def test_quiet_levels_yield_to_exported_ones():
    exported = {"TF_CPP_MIN_LOG_LEVEL": "0"}
    unset = (console.VERBOSE_ENV, "MLFLOW_LOGGING_LEVEL")
    before = dict(os.environ)
    # patch.dict restores the whole environment, so no level leaks into later tests' commands
    with mock.patch.dict(os.environ, exported):
        for name in unset:
            os.environ.pop(name, None)
        console.quiet_by_default()
        assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"
        assert os.environ["MLFLOW_LOGGING_LEVEL"] == "WARNING"
    assert dict(os.environ) == before


SMALL = ("trainer.epochs=2", "dataset.train_limit=500", "dataset.val_size=500")
# Start-up chatter a run must not print: TensorFlow's C++ logging and CUDA probing, Python
# warnings (Keras' ignored `shuffle`, a failing Hydra callback), MLflow's store migrations.
CHATTER = re.compile(r"^[IWE]\d{4} |absl::InitializeLog|oneDNN|cuda|Warning:|warnings\.warn|"
                     r"MissingMandatoryValue|Creating initial MLflow database", re.I | re.M)


@pytest.mark.slow
def test_a_good_run_prints_its_run_the_epochs_and_the_result_and_nothing_else(tmp_path, sqlite_uri):
    uri = sqlite_uri
    result = run_cli("src.train", *SMALL, cwd=tmp_path, MLFLOW_TRACKING_URI=uri)
    assert result.returncode == 0, result.stderr[-3000:]
    run_id = MlflowClient(uri).search_runs(
        [MlflowClient(uri).get_experiment_by_name("mnist-cnn").experiment_id])[0].info.run_id
    lines = result.stdout.splitlines()
    assert lines[0] == f"mnist-cnn-none-s0: MLflow run {run_id} in experiment 'mnist-cnn' at {uri}"
    epochs = [line for line in lines if " epoch " in line]
    assert len(epochs) == 2
    for number, line in enumerate(epochs, 1):
        assert re.fullmatch(rf"mnist-cnn-none-s0 epoch {number}/2: loss [\d.]+ accuracy [\d.]+ "
                            r"val_loss [\d.]+ val_accuracy [\d.]+ \([\d.]+ s\)", line), line
    assert re.fullmatch(r"mnist-cnn-none-s0: test accuracy 0\.\d{4}", lines[-1])
    assert len(lines) == 4, result.stdout  # the run, two epochs, the result
    assert not CHATTER.search(result.stdout + result.stderr), result.stderr[-3000:]
    assert result.stderr == ""


@pytest.mark.slow
def test_verbose_mode_brings_the_start_up_chatter_back_to_a_run(tmp_path):
    result = run_cli("src.train", *SMALL, "trainer.epochs=1", cwd=tmp_path,
                     MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}",
                     MNIST_LAB_VERBOSE="1")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Creating initial MLflow database tables" in result.stderr


@pytest.mark.parametrize(("seconds", "text"), [(0.4, "0 s"), (59.6, "1 min 00 s"),
                                               (190, "3 min 10 s"), (3900, "1 h 05 min")])
def test_durations_read_as_a_person_says_them(seconds, text):
    assert console.duration(seconds) == text


# Printed at exit by a handler registered before the project loads, so it runs after the
# project's own: whether the objects alive then are out of the final garbage collections.
FROZEN_AT_EXIT = ("import atexit, gc\n"
                  "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > 0))\n")


def probed(probe: str, script: str, *args: str, cwd=ROOT, **env: str) -> str:
    """The last line `script` prints in a fresh interpreter that runs `probe` first."""
    result = subprocess.run([sys.executable, "-c", probe + script, *args], cwd=cwd,
                            env=cli_env(**env), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]


def exit_of(script: str, *args: str) -> str:
    return probed(FROZEN_AT_EXIT, script, *args)


def test_a_training_process_exits_without_searching_its_objects_for_cycles():
    """~1.2 s of every run's exit with TensorFlow loaded (BENCHMARKS.md)."""
    assert exit_of("pass") == "frozen at exit: False"  # the probe tells the two apart
    assert exit_of("import src.train") == "frozen at exit: True"


def test_a_sweep_worker_exits_without_searching_its_objects_for_cycles(tmp_path):
    """The launching process waits for each worker's exit before its own."""
    worker = ("import os, sys\n"
              "from hydra_plugins.mnist_lab.launcher import execute_job\n"
              "try:\n"  # a worker of the test's process, given no job: Hydra's part refuses
              "    execute_job(os.getppid(), (), sys.argv[1])\n"
              "except TypeError:\n"
              "    pass\n")
    assert exit_of(worker, str(tmp_path)) == "frozen at exit: True"


@pytest.fixture
def library(tmp_path, monkeypatch):
    """A module not loaded yet that leaves many objects behind, as TensorFlow does."""
    (tmp_path / "heavy_library.py").write_text("objects = [[] for _ in range(50_000)]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "heavy_library"
    sys.modules.pop("heavy_library", None)
    gc.unfreeze()


def test_what_loads_is_never_searched_for_cycles_while_loading_or_after(library):
    """TensorFlow, Keras and MLflow leave ~1 M objects behind; the collector's passes over
    them took ~1.5-2 s of each training process's start-up (BENCHMARKS.md)."""
    collections = []

    def record(phase: str, info: dict) -> None:
        if phase == "start":
            collections.append(info)

    gc.callbacks.append(record)
    try:
        with console.loading():
            loaded = importlib.import_module(library)
            assert not gc.isenabled()
    finally:
        gc.callbacks.remove(record)
    assert collections == []
    assert gc.isenabled()
    assert gc.get_freeze_count() >= len(loaded.objects)  # frozen: out of every later pass


def test_where_nothing_new_loads_nothing_is_frozen():
    """A worker's later jobs import nothing new: their objects stay the collector's to free."""
    frozen = gc.get_freeze_count()
    with console.loading():
        job = [[] for _ in range(10_000)]  # alive as the block ends: frozen, if anything were
    assert gc.get_freeze_count() == frozen  # the job's objects stay collectable
    del job


def test_a_collector_turned_off_stays_off_after_loading(library):
    gc.disable()
    try:
        with console.loading():
            importlib.import_module(library)
        assert not gc.isenabled()
    finally:
        gc.enable()


# Printed at exit: how many objects the largest full collection of the process searched.
LARGEST_FULL_COLLECTION = (
    "import atexit, gc, runpy, sys\n"
    "largest = [0]\n"
    "def probe(phase, info):\n"
    "    if phase == 'start' and info['generation'] == 2:\n"
    "        largest[0] = max(largest[0], len(gc.get_objects(generation=2)))\n"
    "gc.callbacks.append(probe)\n"
    "atexit.register(lambda: print('largest full collection:', largest[0]))\n")


def largest_full_collection(script: str, *args: str, cwd, **env: str) -> int:
    return int(probed(LARGEST_FULL_COLLECTION, script, *args, cwd=cwd, **env).split(": ")[1])


@pytest.mark.slow
def test_a_sweep_never_searches_the_libraries_it_loaded_for_cycles(tmp_path, synthetic):
    """The launching process and its job (here in that process: one worker) load TensorFlow,
    Keras and MLflow out of the collector's way."""
    libraries = largest_full_collection("import keras, mlflow", cwd=tmp_path)
    sweep = largest_full_collection(
        "sys.argv = ['src.train', *sys.argv[1:]]\n"
        "runpy.run_module('src.train', run_name='__main__')\n",
        "-m", "reg=none", "hydra.launcher.workers=1", "trainer.epochs=1",
        "dataset.train_limit=500", *synthetic,
        cwd=tmp_path, MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path}/m.db")
    assert sweep < libraries / 2, (sweep, libraries)  # ~0.13 M against ~0.45 M here
