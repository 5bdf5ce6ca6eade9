"""The stores the tracking load runs against: the default SQLite file, or the PostgreSQL-backed
server that `scripts/tracking-server.sh` starts (free ports, a private state dir), with a
restart of both in the middle of a run."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.bench import ROOT

SCRIPT = ROOT / "scripts" / "tracking-server.sh"


@dataclass
class Stack:
    uri: str
    settings: dict = field(default_factory=dict)  # what the table reports with the numbers
    restart: Callable[[], dict] = lambda: {}


def config(uri: str, experiment: str, wait: float):
    """The project's default config, as a training run composes it, logging to `uri`."""
    from hydra import compose, initialize_config_dir

    from src.config import CONF_DIR, register, to_typed

    register()
    with initialize_config_dir(CONF_DIR, version_base="1.3"):
        return to_typed(compose("config", [
            f"tracking.uri={uri}", f"tracking.experiment={experiment}",
            "tracking.system_metrics=false", f"tracking.wait_for_server={wait}"]))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def compose_service() -> dict:
    """The `mlflow` service of docker-compose.yml, whose command and pool the script runs."""
    import yaml

    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["mlflow"]


def compose_workers() -> str:
    """`mlflow server --workers` as docker-compose.yml (and so the script) sets it."""
    command = [str(arg) for arg in compose_service()["command"]]
    return command[command.index("--workers") + 1]


@contextmanager
def server(workdir: Path) -> Iterator[Stack]:
    """`scripts/tracking-server.sh start` with a state dir under `workdir`; stopped at the end."""
    env = {**os.environ, "TRACKING_STATE_DIR": str(workdir / "state"), "PYTHON": sys.executable,
           "MLFLOW_PORT": str(free_port()), "TRACKING_PG_PORT": str(free_port())}

    def script(command: str) -> None:
        subprocess.run([str(SCRIPT), command], env=env, check=True, stdout=subprocess.DEVNULL)

    def restart() -> dict:
        began = time.monotonic()
        script("stop")
        stopped = time.monotonic()
        script("start")
        return {"restart_stop_seconds": round(stopped - began, 1),
                "restart_down_seconds": round(time.monotonic() - began, 1)}

    script("start")
    try:
        shipped = compose_service()["environment"]  # what the script sets unless told
        pool = [env.get(key, shipped[key]) for key in (
            "MLFLOW_SQLALCHEMYSTORE_POOL_SIZE", "MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW")]
        settings = {"server_workers": compose_workers(),
                    "pool_size_overflow": " + ".join(pool)}
        yield Stack(f"http://127.0.0.1:{env['MLFLOW_PORT']}", settings, restart)
    finally:
        script("stop")
