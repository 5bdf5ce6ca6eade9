"""Pinning workers to GPUs: each worker process holds a slot for its life, a dead one frees
it, and a job's TensorFlow grows its GPU memory only where jobs share a visible GPU."""

import os
import subprocess
import sys
import textwrap

import pytest
from mlflow import MlflowClient

from src import devices
from src.sweeps import gpus
from tests.conftest import ROOT, run_cli

HOLD = textwrap.dedent("""
    import os, sys
    from src.sweeps import gpus
    first = gpus.claim(sys.argv[1], sys.argv[2].split(","))
    again = gpus.claim(sys.argv[1], sys.argv[2].split(","))  # a later job of the same worker
    print(first, again, os.environ["CUDA_VISIBLE_DEVICES"], gpus.run_tags(), flush=True)
    sys.stdin.read()  # hold the slot until told to go
""")


def worker(sweep_dir, slots: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", HOLD, str(sweep_dir), slots], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT), gpus.SHARED: "2"},
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def test_each_worker_takes_its_own_slot_keeps_it_and_a_killed_one_frees_it(tmp_path):
    workers = [worker(tmp_path, "0,1,0,1") for _ in range(4)]
    lines = [w.stdout.readline().split(" ", 3) for w in workers]
    assert sorted(first for first, *_ in lines) == ["0", "0", "1", "1"]
    assert all(first == again == visible for first, again, visible, _ in lines)
    assert all("'gpu.jobs_per_gpu': '2'" in tags for *_, tags in lines)
    fifth = worker(tmp_path, "0,1,0,1")  # every slot held: no GPU to give it
    assert fifth.wait(timeout=60) != 0
    workers[1].kill()  # kill -9: the kernel drops its lock
    workers[1].wait()
    again = worker(tmp_path, "0,1,0,1")
    assert again.stdout.readline().split(" ")[0] == lines[1][0]
    for process in [*workers, again]:
        process.communicate("")


def test_without_gpus_in_the_plan_nothing_is_pinned(tmp_path, monkeypatch):
    monkeypatch.delenv(gpus.ASSIGNED, raising=False)
    assert gpus.claim(tmp_path, ()) is None and gpus.run_tags() == {}
    assert not (tmp_path / gpus.SLOTS).exists()


class FakeGpu:
    name = "/physical_device:GPU:0"


def test_on_a_cpu_a_job_told_to_share_asks_no_memory_growth(monkeypatch):
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("a GPU is visible: this checks the CPU side")
    monkeypatch.setenv(gpus.SHARED, "4")
    assert devices.share_gpus() == []


@pytest.mark.parametrize(("shared", "visible", "grown"), [
    ("1", [FakeGpu()], []),  # a GPU of its own: TensorFlow's default, all memory up front
    ("4", [], []),
    ("4", [FakeGpu()], ["/physical_device:GPU:0"]),
])
def test_memory_growth_is_asked_only_for_a_visible_gpu_that_jobs_share(monkeypatch, shared,
                                                                       visible, grown):
    """The device inventory given to TensorFlow's side: no GPU is lent to this project."""
    import tensorflow as tf

    asked = []
    monkeypatch.setenv(gpus.SHARED, shared)
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind: visible)
    monkeypatch.setattr(tf.config.experimental, "set_memory_growth",
                        lambda gpu, on: asked.append((gpu.name, on)))
    assert devices.share_gpus() == grown
    assert asked == [(name, True) for name in grown]


@pytest.mark.slow
def test_a_sweep_on_two_gpus_pins_a_worker_to_each_and_tags_the_assignment(tmp_path, sqlite_uri):
    """Two GPUs as CUDA_VISIBLE_DEVICES names them: the plan and the pinning run for real; the
    jobs train on this CPU (TensorFlow finds no device behind the names)."""
    uri = sqlite_uri
    result = run_cli("src.train", "-m", "dataset=digits", "model=mlp", "reg=none,l2",
                     "trainer.epochs=1", "tracking.log_model=false", cwd=tmp_path,
                     MLFLOW_TRACKING_URI=uri, CUDA_VISIBLE_DEVICES="0,1")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 job(s) side by side" in result.stdout
    assert "(2 GPU(s), 1 job(s) a GPU)" in result.stdout
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("digits-mlp").experiment_id])
    [parent] = [run for run in runs if "sweep.launcher" in run.data.tags]
    assert parent.data.tags["sweep.gpus"] == "0,1" and parent.data.tags["sweep.jobs_per_gpu"] == "1"
    jobs = [run for run in runs if run is not parent]
    assert len(jobs) == 2
    assert {run.data.tags["gpu.assigned"] for run in jobs} <= {"0", "1"}


@pytest.mark.parametrize(("slots", "preallocate_in_workers"), [
    (["0", "1"], None),  # a GPU each: the backend's default
    (["0", "0"], "false"),  # two jobs a GPU: JAX allocates as it goes
])
def test_the_launcher_takes_gpu_memory_as_needed_and_its_workers_follow_the_plan(
        monkeypatch, slots, preallocate_in_workers):
    """The launching process builds every job's model (the preflight): on a GPU it must not
    reserve the memory its workers train in. What the user set stays theirs."""
    environ = {"TF_FORCE_GPU_ALLOW_GROWTH": "false"}  # the user's own
    monkeypatch.setattr(os, "environ", environ)
    gpus.allocate_as_needed_here()
    assert environ["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
    assert environ["TF_FORCE_GPU_ALLOW_GROWTH"] == "false"
    launcher = dict(environ)
    gpus.allocate_as_needed_here()  # a second sweep in the same process: the same record
    assert environ == launcher
    gpus.worker_environment(slots)  # a worker inherits `launcher`
    assert environ.get("XLA_PYTHON_CLIENT_PREALLOCATE") == preallocate_in_workers
    assert environ["TF_FORCE_GPU_ALLOW_GROWTH"] == "false"
    assert environ[gpus.SHARED] == str(slots.count("0"))
    assert gpus.LAUNCHER_ONLY not in environ
