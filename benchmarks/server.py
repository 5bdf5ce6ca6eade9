"""A local `mlflow server` for the tracking-overhead runs, started and stopped by the harness."""

import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Server:
    uri: str
    process: subprocess.Popen


def start(workdir: Path, env: dict[str, str], timeout: float = 120) -> Server:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with open(workdir / "mlflow-server.log", "w") as log:  # the child keeps its own handle
        process = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
             "--backend-store-uri", f"sqlite:///{workdir / 'mlflow.db'}",
             "--artifacts-destination", str(workdir / "artifacts"), "--workers", "1"],
            env={**env, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},  # as docker-compose.yml
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mlflow server exited with {process.returncode}; see {log.name}")
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2):
                return Server(uri, process)
        except OSError:
            time.sleep(0.5)
    stop(Server(uri, process))
    raise TimeoutError(f"mlflow server at {uri} did not answer within {timeout}s")


def stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()
