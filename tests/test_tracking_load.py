"""The tracking load harness at CI size (benchmarks/tracking_load.py; BENCHMARKS.md has the
full table): 8 simulated jobs on the default SQLite store, 8 on the PostgreSQL-backed server,
and 8 across a restart of that server. Nothing lost, nothing twice, every run FINISHED."""

import shutil
import tempfile
from pathlib import Path

import pytest

from benchmarks import tracking_load, tracking_stack
from tests import servers

pytestmark = pytest.mark.slow
LOAD = tracking_load.Load(jobs=8, epochs=4, epoch_seconds=0.5, processes=2)


def assert_all_there_once(result: dict) -> None:
    assert result["failed_jobs"] == []
    assert (result["runs"], result["finished"]) == (LOAD.jobs, LOAD.jobs), result
    assert result["points_lost_or_wrong"] == result["points_duplicated"] == 0, result
    assert result["all_there_once"]


def test_eight_jobs_on_the_default_sqlite_store_lose_and_repeat_nothing(tmp_path):
    assert_all_there_once(tracking_load.run(LOAD, f"sqlite:///{tmp_path / 'mlflow.db'}",
                                            tmp_path))


@pytest.fixture(scope="module")
def server_stack(tmp_path_factory):
    if reason := servers.postgres_unavailable():
        pytest.skip(reason)
    workdir = Path(tempfile.mkdtemp(prefix="tracking-load-"))  # tmp_path's parents are 0700,
    workdir.chmod(0o755)  # and the cluster runs as `postgres` under root
    try:
        with tracking_stack.server(workdir) as stack:
            yield stack
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.mark.server
def test_eight_jobs_on_the_server_lose_and_repeat_nothing(server_stack, tmp_path):
    assert_all_there_once(tracking_load.run(LOAD, server_stack.uri, tmp_path))


@pytest.mark.server
@pytest.mark.faults
def test_jobs_wait_buffer_and_replay_across_a_restart_of_the_server(server_stack, tmp_path):
    result = tracking_load.run(LOAD, server_stack.uri, tmp_path, (1.0, server_stack.restart))
    assert result["restart"]["restart_down_seconds"] > 0
    assert result["retries"] > 0, "the restart hit no job: it proves nothing"
    assert_all_there_once(result)
