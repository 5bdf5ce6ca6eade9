"""What a run records about itself: its name, its config as params, and where it came from
(the code's git commit, library versions, the Hydra job and sweep it belongs to)."""

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import OmegaConf

from src.config import Config, reg_label
from src.search import seeds
from src.search import space as search_space
from src.sweeps import gpus
from src.tracking import resume

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Distribution -> module: a version is recorded when the run's process loaded the module, so a
# JAX run does not claim the TensorFlow that happens to be installed beside it.
LIBRARIES = {"tensorflow": "tensorflow", "jax": "jax", "keras": "keras", "mlflow": "mlflow",
             "hydra-core": "hydra", "numpy": "numpy", "scikit-learn": "sklearn"}


def run_name(cfg: Config) -> str:
    """What the UI's run list shows, e.g. `mnist-cnn-dropout-s0` (`trial7-mnist-...` in a
    study, whose trials share a seed and most often a reg)."""
    name = f"{cfg.dataset.name}-{cfg.model['name']}-{reg_label(cfg.reg)}-s{cfg.seed}"
    return f"trial{trial}-{name}" if (trial := trial_number()) is not None else name


def trial_number() -> int | None:
    """The Optuna trial this process runs, None outside a study."""
    return seat[0] if (seat := trial_seat()) else None


def trial_seat() -> tuple[int, int] | None:
    """(trial, seed index) of this job in a study (src.search.seeds numbers a trial's seeds'
    jobs from trial * seeds_per_trial), None outside a study."""
    if not HydraConfig.initialized():
        return None
    hydra = HydraConfig.get()
    if hydra.mode != RunMode.MULTIRUN or hydra.sweeper._target_ != search_space.TARGET:
        return None
    return divmod(hydra.job.num, seeds.seeds_per_trial(hydra.sweeper))


def flat_params(cfg: Config) -> dict[str, Any]:
    """The resolved config as `group.key` params, and `reg.name` for the regularizers that ran
    (what src.compare groups by); `tracking.*` is bookkeeping, not a param."""
    tree = OmegaConf.to_container(OmegaConf.structured(cfg), resolve=True, enum_to_str=True)
    tree.pop("tracking")
    flat: dict[str, Any] = {"reg.name": reg_label(cfg.reg)}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}{key}.")
        else:
            flat[prefix[:-1]] = node

    walk(tree, "")
    return flat


def library_versions() -> dict[str, str]:
    return {f"version.{name}": metadata.version(name)
            for name, module in LIBRARIES.items() if module in sys.modules}


def _git(*args: str) -> str:
    out = subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else ""


def git_tags() -> dict[str, str]:
    """The code's commit, and whether uncommitted changes ran with it."""
    commit = _git("rev-parse", "HEAD") or "unknown"
    return {
        "git.commit": commit,
        "mlflow.source.git.commit": commit,  # shown as the run's source version in the UI
        "git.dirty": str(bool(_git("status", "--porcelain", "--untracked-files=no"))).lower(),
    }


THREAD_ENV = {"threads.intra_op": "TF_NUM_INTRAOP_THREADS",
              "threads.inter_op": "TF_NUM_INTEROP_THREADS"}


def thread_tags() -> dict[str, str]:
    """TensorFlow's thread pools as this process set them (the sweep launcher does for jobs
    side by side): they change the order of floating-point sums, so a run repeats bit for bit
    only with the same ones."""
    return {tag: os.environ.get(variable, "default") for tag, variable in THREAD_ENV.items()}


def run_tags() -> dict[str, str]:
    """Provenance: the code's commit and the Hydra job (and sweep) this run belongs to."""
    tags = {**git_tags(), **thread_tags(), **gpus.run_tags()}
    if HydraConfig.initialized():
        hydra = HydraConfig.get()
        tags["hydra.overrides"] = " ".join(hydra.overrides.task)
        tags["hydra.output_dir"] = hydra.runtime.output_dir
        if hydra.mode == RunMode.MULTIRUN:
            tags["hydra.sweep_dir"] = hydra.sweep.dir
            tags["hydra.job_num"] = str(hydra.job.num)
            if parent := resume.parent_run_id(Path(hydra.sweep.dir)):
                tags["mlflow.parentRunId"] = parent  # nests the run under its sweep in the UI
            if seat := trial_seat():
                tags[search_space.TRIAL_TAG] = str(seat[0])
                if seeds.seeds_per_trial(hydra.sweeper) > 1:
                    tags[seeds.SEED_TAG] = str(seat[1])
    return tags
