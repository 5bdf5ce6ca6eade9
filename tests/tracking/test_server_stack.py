"""The tracking server stack: docker-compose.yml checked statically, then its mlflow
command run for real (natively, against a throwaway PostgreSQL) since CI has no Docker."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import mlflow
import numpy as np
import pytest

from tests import servers

ROOT = servers.ROOT
cc = servers.load_script("compose_command")  # the same parser scripts/tracking-server.sh uses
_REF = re.compile(r"\$\{\w+(:?[-?][^}]*)?\}")  # one whole ${VAR...} reference


@pytest.fixture(scope="module")
def compose_file():
    """docker-compose.yml, parsed."""
    return cc.load_compose(ROOT)


@pytest.fixture(scope="module")
def example_env():
    return cc.read_env_file(ROOT / ".env.example")


def _strings(node):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)
    elif isinstance(node, str):
        yield node


def _option(cmd, name):
    return cmd[cmd.index(name) + 1]


def test_compose_file_structure(compose_file, example_env):
    services = compose_file["services"]
    pg, ml = services["postgres"], services["mlflow"]
    cmd = [cc.interpolate(str(a), example_env) for a in ml["command"]]

    used = set().union(*(cc.variables(s) for s in _strings(compose_file)))
    assert used and used <= example_env.keys(), f".env.example lacks {used - example_env.keys()}"

    # reachable from this machine only; the database not at all
    assert "ports" not in pg
    published = [cc.interpolate(str(p), example_env)
                 for s in services.values() for p in s.get("ports", [])]
    assert published and all(p.startswith("127.0.0.1:") for p in published), published

    for svc in (pg, ml):
        assert svc["healthcheck"]["test"]
    assert ml["depends_on"]["postgres"]["condition"] == "service_healthy"

    # the server version is the client version the project installs
    version = ml["build"]["args"]["MLFLOW_VERSION"]
    assert version == mlflow.__version__
    assert ml["image"].endswith(f":{version}")
    dockerfile = (ROOT / ml["build"]["context"] / ml["build"]["dockerfile"]).read_text()
    assert f"ARG MLFLOW_VERSION={version}" in dockerfile
    assert "FROM ghcr.io/mlflow/mlflow:v${MLFLOW_VERSION}" in dockerfile
    assert re.search(r"psycopg2-binary==[\d.]+", dockerfile)

    # MLflow >= 3.5 answers 403 to unlisted Host headers
    host_port, container_port = published[0].split(":")[1:]
    hosts = _option(cmd, "--allowed-hosts").split(",")
    assert {"mlflow", f"mlflow:{container_port}", f"127.0.0.1:{host_port}"} <= set(hosts)
    assert _option(cmd, "--port") == container_port

    # proxied artifacts land on a named volume
    assert "--serve-artifacts" in cmd
    dest = _option(cmd, "--artifacts-destination")
    volume = next(v.split(":")[0] for v in ml["volumes"] if v.endswith(f":{dest}"))
    assert volume in compose_file["volumes"]

    # credentials only as ${VAR} references, never literal
    for key, value in pg["environment"].items():
        assert _REF.fullmatch(value), f"postgres {key} is not an env reference: {value!r}"
    raw_uri = _option([str(a) for a in ml["command"]], "--backend-store-uri")
    assert raw_uri.startswith("postgresql+psycopg2://")  # the driver the Dockerfile installs
    userinfo = raw_uri.split("//", 1)[1].rpartition("@")[0]
    assert all(_REF.fullmatch(part) for part in userinfo.split(":")), raw_uri
    assert example_env["POSTGRES_PASSWORD"] not in (ROOT / "docker-compose.yml").read_text()
    assert ".env" in (ROOT / ".gitignore").read_text().split()


def test_the_server_pools_more_connections_than_a_worker_has_request_threads(compose_file):
    """MLflow's store takes a second pooled connection inside a request: a pool below a
    worker's 40 request threads (anyio's default) stalled the server under 128 jobs
    (BENCHMARKS.md). Compose and the native script set the same pool, within PostgreSQL's
    100 connections (3 of them reserved for superusers)."""
    ml = compose_file["services"]["mlflow"]
    env = ml["environment"]
    pool = int(env["MLFLOW_SQLALCHEMYSTORE_POOL_SIZE"]) + int(
        env["MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW"])
    workers = int(_option([str(a) for a in ml["command"]], "--workers"))
    assert pool > 40 and workers * pool <= 100 - 3


def test_compose_the_native_script_and_the_test_servers_run_without_mlflows_job_runner(
        compose_file):
    """MLflow's server-side job runner (GenAI jobs, which the project never submits) starts
    eight more processes that cost ~40 CPU-seconds: compose turns it off, and the native script
    and the tests' servers run with what compose sets."""
    env = compose_file["services"]["mlflow"]["environment"]
    assert env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
    assert servers.NO_JOB_RUNNER.items() <= env.items()
    script = (ROOT / "scripts" / "tracking-server.sh").read_text()
    for key, value in env.items():
        assert f'export {key}="${{{key}:-{value}}}"' in script


def test_native_command_changes_only_addresses(compose_file, example_env, tmp_path):
    env = {**example_env, "MLFLOW_PORT": "5099"}
    command = compose_file["services"]["mlflow"]["command"]
    container = [cc.interpolate(str(a), env) for a in command][1:]
    native = cc.native_args(compose_file, env, db_port=6543, artifacts=tmp_path)
    assert len(native) == len(container)
    pairs = enumerate(zip(container, native, strict=True))
    changed = {container[i - 1] for i, (a, b) in pairs if a != b}
    assert changed <= {"--host", "--port", "--artifacts-destination", "--backend-store-uri"}
    assert (_option(native, "--host"), _option(native, "--port")) == ("127.0.0.1", "5099")
    assert _option(native, "--artifacts-destination") == str(tmp_path.resolve())
    before = urlsplit(_option(container, "--backend-store-uri"))
    after = urlsplit(_option(native, "--backend-store-uri"))
    assert (after.hostname, after.port) == ("127.0.0.1", 6543)
    assert (after.scheme, after.username, after.password, after.path) == (
        before.scheme, before.username, before.password, before.path)
    assert "127.0.0.1:5099" in _option(native, "--allowed-hosts").split(",")


def test_tracking_server_script_parses():
    subprocess.run(["bash", "-n", str(ROOT / "scripts" / "tracking-server.sh")], check=True)


def _skip_without_postgres():
    if reason := servers.postgres_unavailable():
        pytest.skip(reason)
    pytest.importorskip("psycopg2", reason="the postgresql:// store needs psycopg2-binary")


@pytest.mark.server
def test_compose_mlflow_command_round_trip(compose_file, example_env, tmp_path):
    """The compose mlflow command, run natively: runs in Postgres, artifacts through the server,
    a trained run's model registered and loaded by its alias."""
    _skip_without_postgres()
    import psycopg2
    from mlflow.tracking import MlflowClient

    env = {**example_env, "MLFLOW_PORT": str(servers.free_port())}
    user, password, db = env["POSTGRES_USER"], env["POSTGRES_PASSWORD"], env["POSTGRES_DB"]
    store = tmp_path / "mlartifacts"
    with servers.postgres_cluster(user, password, db) as pg_port:
        args = cc.native_args(compose_file, env, db_port=pg_port, artifacts=store)
        with servers.mlflow_process(args, log_path=tmp_path / "mlflow.log") as uri:
            client = MlflowClient(tracking_uri=uri)
            _register_a_trained_run(uri, tmp_path)
            exp_id = client.create_experiment("stack-smoke")
            assert client.get_experiment(exp_id).artifact_location.startswith("mlflow-artifacts:")
            run_id = client.create_run(exp_id).info.run_id
            client.log_param(run_id, "optimizer", "adam")
            client.log_param(run_id, "lr", 0.001)
            for step in range(4):
                client.log_metric(run_id, "val_loss", 1.0 / (step + 1), step=step)
            payload = b"confusion matrix\n" + bytes(range(256))
            (tmp_path / "up").mkdir()
            (tmp_path / "up" / "report.bin").write_bytes(payload)
            client.log_artifact(run_id, str(tmp_path / "up" / "report.bin"), artifact_path="eval")
            client.set_terminated(run_id)

            run = client.get_run(run_id)
            assert run.data.params == {"optimizer": "adam", "lr": "0.001"}
            history = client.get_metric_history(run_id, "val_loss")
            assert sorted((m.step, m.value) for m in history) == [
                (s, 1.0 / (s + 1)) for s in range(4)]
            assert run.info.artifact_uri.startswith("mlflow-artifacts:")
            assert [f.path for f in client.list_artifacts(run_id, "eval")] == ["eval/report.bin"]
            got = client.download_artifacts(run_id, "eval/report.bin", str(tmp_path))
            assert Path(got).read_bytes() == payload
            # the server wrote it under --artifacts-destination (proxied, not a client-side path)
            assert [p.read_bytes() for p in store.rglob("report.bin")] == [payload]

            api = f"{uri}/api/2.0/mlflow/experiments/search?max_results=1"
            assert servers.http_status(api, host="mlflow:5000") == 200  # a container on the network
            assert servers.http_status(api, host="mlflow") == 200
            assert servers.http_status(api, host="evil.example") == 403  # the check is really on

        with psycopg2.connect(host="127.0.0.1", port=pg_port, user=user, password=password,
                              dbname=db) as conn, conn.cursor() as cur:
            cur.execute("SELECT status FROM runs WHERE run_uuid = %s", (run_id,))
            assert cur.fetchall() == [("FINISHED",)]


def _register_a_trained_run(uri: str, tmp_path: Path) -> None:
    """src.train logs its model through the server; src.registry registers it in Postgres."""
    from tests.conftest import run_cli

    small = ("trainer.epochs=1", "dataset.train_limit=500", "dataset.val_size=500")
    trained = run_cli("src.train", *small, cwd=tmp_path, MLFLOW_TRACKING_URI=uri)
    assert trained.returncode == 0, trained.stderr[-3000:]
    registered = run_cli("src.registry", "register", cwd=tmp_path, MLFLOW_TRACKING_URI=uri)
    assert registered.returncode == 0, registered.stderr[-3000:]
    mlflow.set_tracking_uri(uri)
    champion = mlflow.pyfunc.load_model("models:/mnist-cnn@champion")
    assert champion.predict(np.zeros((2, 28, 28, 1), "float32")).shape == (2, 10)


@pytest.mark.server
def test_tracking_server_script(tmp_path):
    """scripts/tracking-server.sh start/status/stop with a private state dir and free ports."""
    _skip_without_postgres()
    state = Path(tempfile.mkdtemp(prefix="tracking-state-"))  # tmp_path's parents are 0700,
    state.chmod(0o755)  # and the cluster runs as `postgres` under root
    mlflow_port = servers.free_port()
    env = {**os.environ, "TRACKING_STATE_DIR": str(state), "MLFLOW_PORT": str(mlflow_port),
           "TRACKING_PG_PORT": str(servers.free_port()), "PYTHON": sys.executable}
    script = [str(ROOT / "scripts" / "tracking-server.sh")]

    def run(cmd, check=True):
        return subprocess.run(script + [cmd], env=env, capture_output=True, text=True, timeout=300,
                              check=check)

    try:
        out = run("start").stdout
        assert f"http://127.0.0.1:{mlflow_port}" in out
        assert run("status").returncode == 0
        from mlflow.tracking import MlflowClient
        exp_id = MlflowClient(f"http://127.0.0.1:{mlflow_port}").create_experiment("script-smoke")
        assert exp_id
        run("start")  # idempotent: both already up
    except subprocess.CalledProcessError as e:
        pytest.fail(f"{e.cmd} failed:\n{e.stdout}\n{e.stderr}")
    finally:
        run("stop", check=False)
        try:
            assert run("status", check=False).returncode != 0
        finally:
            shutil.rmtree(state, ignore_errors=True)


@pytest.mark.server
def test_mlflow_server_fixture(mlflow_server, tmp_path):
    """The plain SQLite-backed server other tests use takes runs and proxied artifacts."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_server)
    run_id = client.create_run(client.create_experiment("fixture-smoke")).info.run_id
    client.log_metric(run_id, "acc", 0.5, step=1)
    (tmp_path / "note.txt").write_text("hi")
    client.log_artifact(run_id, str(tmp_path / "note.txt"))
    assert client.get_run(run_id).info.artifact_uri.startswith("mlflow-artifacts:")
    (tmp_path / "dl").mkdir()
    downloaded = client.download_artifacts(run_id, "note.txt", str(tmp_path / "dl"))
    assert Path(downloaded).read_text() == "hi"
