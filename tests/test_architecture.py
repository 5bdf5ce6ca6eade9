"""The tree shows the architecture, and the README says it as it is: dependencies point one
way (Hydra's plugins adapt the project; the project never imports them), no module imports
itself back round a cycle, the quiet start-up helpers are a leaf, and the README's choice table
and layout match conf/ and src/."""

import ast
import re
from pathlib import Path

import pytest

from src.choices import GROUPS
from tests.conftest import ROOT

SRC = ROOT / "src"
MAX_LINES = 260  # "no module over ~250 lines"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in SRC.rglob("*.py")}


def imports(path: Path) -> set[str]:
    """Every module this file imports, at its top or inside a function."""
    found = set()
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rsplit(
        ".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def project_imports(path: Path) -> set[str]:
    return {name for name in imports(path) if name in MODULES and name != module_name(path)}


def test_the_project_never_imports_its_hydra_plugins():
    offenders = [name for name, path in MODULES.items()
                 if any(i.split(".")[0] == "hydra_plugins" and "mnist_lab" in i
                        for i in imports(path))]
    assert offenders == []


def test_there_is_no_import_cycle_in_the_project():
    graph = {name: project_imports(path) for name, path in MODULES.items()}
    done, path, cycles = set(), [], []

    def visit(node: str) -> None:
        if node in path:
            cycles.append(path[path.index(node):] + [node])
            return
        if node in done:
            return
        path.append(node)
        for nxt in sorted(graph[node]):
            visit(nxt)
        path.pop()
        done.add(node)

    for name in sorted(graph):
        visit(name)
    assert cycles == []


def test_the_quiet_start_up_helpers_are_a_leaf():
    assert project_imports(SRC / "console.py") == set()


def test_the_plugins_are_adapters_over_the_projects_modules():
    plugins = ROOT / "hydra_plugins" / "mnist_lab"
    used = set().union(*(imports(p) for p in plugins.glob("*.py")))
    assert {"src.sweeps.cost", "src.sweeps.plan", "src.search.space"} <= used
    assert sum(len(p.read_text().splitlines()) for p in plugins.glob("*.py")) < 300


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_is_longer_than_a_reader_can_hold(name):
    assert len(MODULES[name].read_text().splitlines()) <= MAX_LINES


def readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    return text.split(f"{title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_readme_choice_table_lists_every_yaml_of_every_group():
    rows = re.findall(r"^\| `(\w+)` \| (.*?) \| `(\w+)` \|$",
                      readme_section("## Running experiments"), re.M)
    assert sorted(group for group, _, _ in rows) == sorted(GROUPS)
    for group, choices, default in rows:
        files = sorted(path.stem for path in (ROOT / "conf" / group).glob("*.yaml"))
        assert sorted(re.findall(r"`(\w+)`", choices)) == files, group
        assert default in files


def test_the_readme_layout_names_what_is_in_the_tree():
    block = readme_section("## Layout").split("```")[1]
    for line in block.strip().splitlines():
        path, description = line.split(maxsplit=1)
        assert (ROOT / path).exists(), path
        if not path.startswith("src/"):
            continue
        named = {word for group in re.findall(r"\(([^)]*)\)", description)
                 for word in re.split(r",\s*", group)}
        package = ROOT / path
        modules = {p.stem for p in package.glob("*.py") if p.stem not in ("__init__", "__main__")}
        subpackages = {p.name for p in package.iterdir() if (p / "__init__.py").exists()}
        assert modules <= named, (path, modules - named)
        assert named <= modules, (path, named - modules)
        if path == "src/":  # each package has its own line
            listed = {line.split()[0] for line in block.strip().splitlines()}
            assert {f"src/{name}/" for name in subpackages} <= listed
