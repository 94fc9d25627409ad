"""Imports point one way: the library packages never touch IPython, ipykernel or the env."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "elastic_kernel"
LIBRARIES = ("lineage", "planner", "store")
FORBIDDEN = (
    "IPython",
    "ipykernel",
    "jupyter_client",
    "elastic_kernel.kernel",
    "elastic_kernel.magics",
)
SHELL_FREE = ("checkpoint.py", "restore.py", "session.py")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def library_files() -> list[Path]:
    return sorted(p for lib in LIBRARIES for p in (PACKAGE / lib).rglob("*.py"))


@pytest.mark.parametrize("path", library_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_libraries_do_not_import_the_kernel_stack(path: Path) -> None:
    bad = {m for m in imported_modules(path) if m.split(".")[0] in FORBIDDEN or m in FORBIDDEN}
    assert not bad, f"{path.name} imports {bad}"


@pytest.mark.parametrize("path", library_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_libraries_do_not_read_the_environment(path: Path) -> None:
    source = path.read_text()
    assert "os.environ" not in source and "getenv(" not in source


def test_planner_does_not_know_the_store() -> None:
    for path in (PACKAGE / "planner").rglob("*.py"):
        assert not any(m.startswith("elastic_kernel.store") for m in imported_modules(path))


@pytest.mark.parametrize("name", SHELL_FREE)
def test_orchestration_takes_no_shell(name: str) -> None:
    bad = {m for m in imported_modules(PACKAGE / name) if m.split(".")[0] in FORBIDDEN}
    assert not bad
