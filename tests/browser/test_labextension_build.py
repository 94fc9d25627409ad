"""The committed labextension build matches its source (no node needed): CI catches a stale
build. Rebuild with `make labextension`."""

from __future__ import annotations

import importlib.util
import json
import sys
from types import ModuleType

import pytest

from tests.browser.conftest import BUILT, ROOT

SOURCE = ROOT / "labextension"
REBUILD = (
    "the committed build is stale: run `make labextension` and commit elastic_kernel/labextension"
)


def load_stamp_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("labextension_stamp", SOURCE / "stamp.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_build_stamp_matches_the_source() -> None:
    stamp = json.loads((BUILT / "build-stamp.json").read_text())
    assert stamp["source_sha256"] == load_stamp_module().source_hash(SOURCE), REBUILD


def test_built_package_points_at_existing_assets() -> None:
    source = json.loads((SOURCE / "package.json").read_text())
    built = json.loads((BUILT / "package.json").read_text())
    assert (built["name"], built["version"]) == (source["name"], source["version"])
    assert (BUILT / built["jupyterlab"]["_build"]["load"]).is_file()
    schema = BUILT / "schemas" / source["name"] / "plugin.json"
    assert json.loads(schema.read_text()) == json.loads((SOURCE / "schema/plugin.json").read_text())


def test_wheel_installs_the_build_as_a_prebuilt_extension() -> None:
    tomllib = pytest.importorskip("tomllib")
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    shared = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["shared-data"]
    name = json.loads((SOURCE / "package.json").read_text())["name"]
    assert shared["elastic_kernel/labextension"] == f"share/jupyter/labextensions/{name}"
    assert shared["labextension/install.json"].endswith(f"labextensions/{name}/install.json")
