"""Real server processes for tests: throwaway PostgreSQL clusters and MLflow servers.

A plain module (not conftest) so test files and fixtures share one implementation.
Everything started here is torn down in `finally`, whole process groups included,
because `mlflow server` runs uvicorn workers in child processes.
"""
from __future__ import annotations

import contextlib
import glob
import http.client
import importlib.util
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_SETUP_SQL = ROOT / "scripts" / "tracking-db.sql"


def load_script(name: str):
    """Import scripts/<name>.py (scripts/ is not a package; the native launcher runs it too)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_status(url: str, host: str | None = None, timeout: float = 5) -> int:
    """Status of a GET, optionally with a forged Host header (to test --allowed-hosts)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request("GET", path or "/", headers={"Host": host} if host else {})
        return conn.getresponse().status
    finally:
        conn.close()


def _tail(path: Path | None, lines: int = 40) -> str:
    if path is None or not Path(path).exists():
        return ""
    return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])


def wait_for_http(url: str, timeout: float = 180, proc: subprocess.Popen | None = None,
                  log: Path | None = None) -> None:
    """Poll until `url` answers 200; fail fast (with the log tail) if `proc` dies first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(
                f"server exited with {proc.returncode} before {url} was up:\n{_tail(log)}")
        try:
            if http_status(url, timeout=2) == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} not up after {timeout:.0f}s:\n{_tail(log)}")


def stop_process_group(proc: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM the group `proc` leads, wait for every member, SIGKILL stragglers."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc.poll()  # reap the leader so it does not linger as a zombie group member
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


# As docker-compose.yml runs the server: without MLflow's server-side job runner.
NO_JOB_RUNNER = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


@contextmanager
def mlflow_process(args: list[str], log_path: Path, env: dict | None = None) -> Iterator[str]:
    """Run `python -m mlflow <args>` (with --host/--port); yield its http URI once healthy."""
    host, port = args[args.index("--host") + 1], args[args.index("--port") + 1]
    uri = f"http://{host}:{port}"
    env = {**(os.environ if env is None else env), **NO_JOB_RUNNER}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "mlflow", *args], stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, start_new_session=True)
    try:
        wait_for_http(f"{uri}/health", proc=proc, log=log_path)
        yield uri
    finally:
        stop_process_group(proc)


@contextmanager
def mlflow_sqlite_server(workdir: Path) -> Iterator[str]:
    """Plain `mlflow server`: SQLite store and proxied artifacts under `workdir`, a free port."""
    workdir = Path(workdir)
    args = ["server", "--backend-store-uri", f"sqlite:///{workdir / 'mlflow.db'}",
            "--serve-artifacts", "--artifacts-destination", str(workdir / "mlartifacts"),
            "--host", "127.0.0.1", "--port", str(free_port()),
            "--workers", "1"]  # SQLite allows one writer; more workers only add lock errors
    with mlflow_process(args, log_path=workdir / "mlflow-server.log") as uri:
        yield uri


# --- PostgreSQL ---------------------------------------------------------------------------

def pg_bindir() -> Path | None:
    """Directory with initdb/pg_ctl: on PATH, else Debian's newest /usr/lib/postgresql/*/bin."""
    if found := shutil.which("initdb"):
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return Path(candidates[-1]).parent if candidates else None


def postgres_unavailable() -> str | None:
    """Why a local cluster cannot start here (a skip reason), or None."""
    if pg_bindir() is None:
        return "PostgreSQL server binaries (initdb) not installed: apt-get install postgresql"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and no 'postgres' user to run the cluster as"
    return None


def _as_cluster_owner(cmd: list[str]) -> list[str]:
    # postgres refuses to run as root; Debian's package creates a `postgres` user
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@contextmanager
def postgres_cluster(user: str, password: str, db: str) -> Iterator[int]:
    """Throwaway cluster on 127.0.0.1:<free port> with `user`/`db` (password auth over TCP).

    Yields the port. Durability is switched off: the data dies with the test anyway.
    """
    bindir = pg_bindir()
    base = Path(tempfile.mkdtemp(prefix="pg-test-"))  # not tmp_path: its parents are 0700
    data, log = base / "data", base / "postgres.log"
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    port = free_port()
    started = False
    try:
        try:
            subprocess.run(_as_cluster_owner([
                str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-E", "UTF8",
                "--locale=C", "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync"]),
                check=True, capture_output=True)
            opts = (f"-c listen_addresses=127.0.0.1 -p {port} -k {shlex.quote(str(base))}"
                    " -c fsync=off -c synchronous_commit=off -c full_page_writes=off")
            started = True
            subprocess.run(_as_cluster_owner([str(bindir / "pg_ctl"), "-D", str(data),
                                              "-l", str(log), "-w", "-t", "60", "-o", opts,
                                              "start"]),
                           check=True, capture_output=True)
            subprocess.run([str(bindir / "psql"), "-X", "-q", "-h", str(base), "-p", str(port),
                            "-U", "postgres", "-d", "postgres", "-v", f"user={user}",
                            "-v", f"password={password}", "-v", f"db={db}",
                            "-f", str(PG_SETUP_SQL)],
                           check=True, capture_output=True)
        except subprocess.CalledProcessError as e:
            raise RuntimeError(f"{shlex.join(e.cmd)} failed:\n{e.stderr.decode(errors='replace')}"
                               f"\n{_tail(log)}") from e
        yield port
    finally:
        if started:
            subprocess.run(_as_cluster_owner([str(bindir / "pg_ctl"), "-D", str(data), "-m",
                                              "immediate", "-w", "stop"]), capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
