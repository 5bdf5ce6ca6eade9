"""The project's conventions, checked: the GitHub workflow is valid and runs what .ci/run runs
on the Pythons the README claims, pre-commit runs the linter CI runs, and `make test-fast`
is the everyday subset of `make test`."""

import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import yaml

from tests.conftest import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"


def test_the_workflow_is_valid_against_githubs_schema():
    checker = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run([str(checker), "--builtin-schema", "vendor.github-workflows",
                             "--builtin-schema", "custom.github-workflows-require-timeout",
                             str(WORKFLOW)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_workflow_runs_ci_on_every_python_the_readme_claims():
    low, high = re.search(r"Python 3\.(\d+)-3\.(\d+)", (ROOT / "README.md").read_text()).groups()
    job = yaml.safe_load(WORKFLOW.read_text())["jobs"]["test"]
    assert job["strategy"]["matrix"]["python"] == [f"3.{v}" for v in range(int(low),
                                                                            int(high) + 1)]
    steps = " ".join(step.get("run", "") for step in job["steps"])
    assert "bash .ci/run" in steps  # lint, then the README's test command, as CI does
    assert "postgresql chromium chromium-driver" in steps
    assert any(step.get("uses", "").startswith("actions/cache@") for step in job["steps"])


def test_pre_commit_runs_the_linter_ci_runs_in_its_version():
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    [ruff] = config["repos"]
    assert ruff["repo"].endswith("/ruff-pre-commit")
    assert {hook["id"] for hook in ruff["hooks"]} == {"ruff", "ruff-format"}
    minor = ".".join(metadata.version("ruff").split(".")[:2])  # pyproject pins the minor
    assert ruff["rev"].removeprefix("v").startswith(f"{minor}.")


def test_make_test_fast_leaves_out_exactly_the_marked_tests():
    makefile = (ROOT / "Makefile").read_text()
    fast = re.search(r"^test-fast:.*\n\t(.*)$", makefile, re.M).group(1)
    assert fast == '$(PY) -m pytest -m "not slow and not server and not faults"'
    assert re.search(r"^test:.*\n\t\$\(PY\) -m pytest$", makefile, re.M)
