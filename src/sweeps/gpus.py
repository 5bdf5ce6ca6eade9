"""Which GPU each of a sweep's worker processes trains on: every GPU busy, none oversubscribed.

The plan (src.sweeps.plan) gives each worker slot a GPU, round robin: one slot per GPU, or
`hydra.launcher.jobs_per_gpu=k` slots per GPU, so fewer jobs than slots still spread over the
GPUs. A worker takes the first free slot when it runs its first job (a lock file in the sweep
dir, held for the worker's life and freed by the kernel when it dies, kill -9 included) and
pins itself with CUDA_VISIBLE_DEVICES before TensorFlow loads. loky reuses workers, and
TensorFlow binds its GPUs once a process, so a worker keeps its slot for every job it runs.

No TensorFlow here: the launcher imports this.
"""

import fcntl
import os
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Optional

SLOTS = ".gpu_slots"  # in the sweep dir: slot-<n>.lock
ASSIGNED = "SWEEP_GPU"  # the GPU the launcher pinned this process to
SHARED = "SWEEP_JOBS_PER_GPU"  # more than 1: jobs share a GPU, each growing its memory
AS_NEEDED = {"TF_FORCE_GPU_ALLOW_GROWTH": "true", "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
LAUNCHER_ONLY = "SWEEP_LAUNCHER_ALLOCATOR"  # which of AS_NEEDED the launching process set

_claimed: Optional[tuple[int, IO]] = None  # this process's slot and the lock that holds it


def environment(gpus: Sequence[str]) -> dict[str, str]:
    """What every worker inherits: how many jobs share the busiest GPU, and where they share
    one, JAX told to allocate as it goes (TensorFlow: src.devices.share_gpus)."""
    if not gpus:
        return {}
    shared = max(gpus.count(gpu) for gpu in set(gpus))
    return {SHARED: str(shared), **({"XLA_PYTHON_CLIENT_PREALLOCATE": "false"} if shared > 1
                                    else {})}


def allocate_as_needed_here() -> None:
    """Before the launching process builds every job's model to check and cost it
    (src.preflight): on a GPU machine TensorFlow would reserve nearly all of each GPU's memory
    for that and JAX 75 %, held beside the jobs for the whole sweep. Here both take what they
    use. A variable the user set is kept; the ones set here are listed, and workers drop them
    (`worker_environment`). A job run in this process (one worker) allocates as needed too."""
    if LAUNCHER_ONLY in os.environ:
        return  # done already in this process (an earlier sweep of it)
    own = [name for name in AS_NEEDED if name not in os.environ]
    os.environ.update({name: AS_NEEDED[name] for name in own})
    os.environ[LAUNCHER_ONLY] = ",".join(own)


def worker_environment(gpus: Sequence[str]) -> None:
    """In a worker process, before its backend loads: the memory settings the launching
    process made for itself alone are dropped, and the plan's (`environment`) apply where the
    user set nothing else."""
    for name in filter(None, os.environ.pop(LAUNCHER_ONLY, "").split(",")):
        os.environ.pop(name, None)
    for name, value in environment(gpus).items():
        os.environ.setdefault(name, value)


def claim(sweep_dir: Path, gpus: Sequence[str]) -> Optional[str]:
    """Pin this process to its slot's GPU (the same one on every later call); None without
    GPUs in the plan."""
    global _claimed
    if not gpus:
        return None
    if _claimed is None:
        folder = Path(sweep_dir) / SLOTS
        folder.mkdir(parents=True, exist_ok=True)
        for slot in range(len(gpus)):
            handle = open(folder / f"slot-{slot}.lock", "a")  # noqa: SIM115 - held for life
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            _claimed = (slot, handle)
            break
        else:
            raise RuntimeError(f"all {len(gpus)} GPU slots in {folder} are held: more workers "
                               "than the plan made slots for")
    gpu = gpus[_claimed[0]]
    os.environ.update({"CUDA_VISIBLE_DEVICES": gpu, ASSIGNED: gpu})
    return gpu


def run_tags() -> dict[str, str]:
    """The assignment, for the run's tags; nothing where the launcher pinned no GPU."""
    if ASSIGNED not in os.environ:
        return {}
    return {"gpu.assigned": os.environ[ASSIGNED],
            "gpu.jobs_per_gpu": os.environ.get(SHARED, "1")}
