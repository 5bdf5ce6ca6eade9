"""What lets the same command, launched again, finish what an earlier launch started.

- Output dirs are named after the command (a digest of its overrides), not the clock, so a
  re-launch finds what an interrupted launch left in its job dir: Keras' training backup, the
  MLflow run that backup belongs to, and epoch metrics the tracking server never received.
- `config_hash` (src.tracking.identity) names a configuration across launches and machines;
  runs carry it as the `config_hash` tag, so a re-launched sweep skips configs that FINISHED.
- A multirun records its parent run in the sweep dir, where every job (in any process, or on
  any SLURM node sharing the filesystem) finds it.
"""

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from mlflow import MlflowClient
from mlflow.entities import Metric, Run
from mlflow.exceptions import MlflowException

from src.tracking.store import store_exists

PARENT_RUN_FILE = "mlflow_parent_run_id"


def finished_run(uri: str, experiment: str, config_hash: str) -> Optional[Run]:
    """The newest FINISHED run of this config (its `config_hash` tag) in the experiment."""
    if not store_exists(uri):
        return None
    client = MlflowClient(uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return None
    runs = client.search_runs(
        [found.experiment_id],
        f"tags.config_hash = '{config_hash}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0] if runs else None


def _exists(run_id: str, experiment_id: str) -> bool:
    try:
        found = MlflowClient().get_run(run_id)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        return False
    return found.info.experiment_id == experiment_id and found.info.lifecycle_stage == "active"


@dataclass
class JobDir:
    """A job's Hydra output dir and the state it keeps between launches of the same command."""

    path: Path

    @property
    def backup(self) -> Path:
        """src.trainer.AtomicBackupAndRestore's dir: weights and epoch of the last done epoch."""
        return self.path / "backup"

    @property
    def pending_metrics(self) -> Path:
        """Epoch metrics the server has not received yet (src.tracking.epoch_metrics)."""
        return self.path / "pending_metrics.json"

    @property
    def record(self) -> Path:
        """The MLflow run id and config_hash the backup belongs to."""
        return self.path / "mlflow_run.json"

    def unsent_metrics(self) -> list[Metric]:
        path = self.pending_metrics
        return [Metric(*row) for row in json.loads(path.read_text())] if path.exists() else []

    def keep_unsent_metrics(self, metrics: list[Metric]) -> None:
        if metrics:
            _write(self.pending_metrics, [[m.key, m.value, m.timestamp, m.step] for m in metrics])
        else:
            self.pending_metrics.unlink(missing_ok=True)

    def interrupted_run(self, config_hash: str, experiment_id: str) -> Optional[str]:
        """The run an interrupted launch of this config left here, to resume into.

        State left by another config (a sweep whose job numbers now map to other configs) or
        recorded against another store or experiment is discarded, not restored.
        """
        if self.record.exists():
            record = json.loads(self.record.read_text())
            same_config = record["config_hash"] == config_hash
            if same_config and _exists(record["run_id"], experiment_id):
                return record["run_id"]
        self.forget()
        return None

    def remember(self, run_id: str, config_hash: str) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        _write(self.record, {"run_id": run_id, "config_hash": config_hash})

    def forget(self) -> None:
        """Drop the resume state: the run FINISHED, or the state belongs to something else."""
        self.record.unlink(missing_ok=True)
        self.pending_metrics.unlink(missing_ok=True)
        shutil.rmtree(self.backup, ignore_errors=True)


def _write(path: Path, content: Any) -> None:
    """Replace `path` whole, so a kill mid-write leaves the old file rather than half a file."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(content) + "\n")
    partial.replace(path)


def parent_run_id(sweep_dir: Path) -> Optional[str]:
    """The parent run src.tracking.sweep started for the multirun in `sweep_dir`, if any."""
    path = sweep_dir / PARENT_RUN_FILE
    return path.read_text().strip() if path.exists() else None


def record_parent_run(sweep_dir: Path, run_id: str) -> None:
    sweep_dir.mkdir(parents=True, exist_ok=True)
    (sweep_dir / PARENT_RUN_FILE).write_text(run_id + "\n")
