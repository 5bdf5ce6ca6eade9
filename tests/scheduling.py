"""Test files run longest first, so the xdist workers (`--dist loadfile`) finish together
rather than one of them running a long file alone at the end: longest-processing-time-first
scheduling (R. L. Graham, "Bounds on multiprocessing timing anomalies", 1969).

The seconds come from tests/durations.json, measured by a full run:

    python -m pytest --store-durations    # updates tests/durations.json for the files it ran

A file it does not list (a new one) goes first, as if it were the longest.
"""

import json
from collections import defaultdict
from pathlib import Path

import pytest

DURATIONS = Path(__file__).with_name("durations.json")
_measured: defaultdict[str, float] = defaultdict(float)


def test_file(nodeid: str) -> str:
    return nodeid.split("::")[0]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--store-durations", action="store_true",
                     help="write each test file's seconds to tests/durations.json")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    seconds = json.loads(DURATIONS.read_text()) if DURATIONS.exists() else {}
    first_seen: dict[str, int] = {}
    for index, item in enumerate(items):
        first_seen.setdefault(test_file(item.nodeid), index)
    # Stable: a file's tests stay together and in their order; equal files in collection order.
    items.sort(key=lambda item: (-seconds.get(test_file(item.nodeid), float("inf")),
                                 first_seen[test_file(item.nodeid)]))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _measured[test_file(report.nodeid)] += report.duration  # setup, call and teardown


def pytest_sessionfinish(session: pytest.Session) -> None:
    controller = not hasattr(session.config, "workerinput")  # xdist: its workers report to it
    if session.config.getoption("store_durations") and controller and _measured:
        seconds = json.loads(DURATIONS.read_text()) if DURATIONS.exists() else {}
        seconds.update(_measured)  # a run of some files updates those
        ranked = sorted(seconds.items(), key=lambda pair: -pair[1])
        DURATIONS.write_text(json.dumps({name: round(s, 1) for name, s in ranked}, indent=1)
                             + "\n")
