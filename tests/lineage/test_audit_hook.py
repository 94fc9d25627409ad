"""The C audit hook: built where a compiler is, calls Python only for watched events, never
aborts the operation it watches; the Python hook it replaces records the same effects."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from elastic_kernel.lineage.effects import EffectWatcher, audit_hook_kind
from tests.utils import c_compiler_available

# What a watcher records for a write, a read, a subprocess and a directory scan, as JSON.
RECORD = """
import json, os, subprocess, sys
from pathlib import Path
from elastic_kernel.lineage.effects import EffectWatcher, audit_hook_kind
from tests.utils import c_compiler_available
tmp = Path(sys.argv[1])
(tmp / "in.txt").write_text("x")
watcher = EffectWatcher()
with watcher.watch() as recording:
    (tmp / "out.txt").write_text("y")
    (tmp / "in.txt").read_text()
    subprocess.run(["true"], check=True)
    [id(n) for n in range(1000)]
effects = recording.effects
print(json.dumps({
    "kind": audit_hook_kind(),
    "side_effects": sorted(effects.side_effects),
    "inputs": [i.path for i in effects.file_inputs],
}))
"""


def _record(tmp: Path, *, block_c_hook: bool) -> dict[str, object]:
    prelude = "import sys\nsys.modules['elastic_kernel._audit_hook'] = None\n"
    code = (prelude if block_c_hook else "") + RECORD
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp)], check=True, capture_output=True, text=True
    )
    return dict(json.loads(out.stdout))


def test_the_c_hook_is_built_and_used_where_a_compiler_is() -> None:
    if not c_compiler_available():
        pytest.skip("no C compiler: the Python hook is used")
    EffectWatcher()
    assert audit_hook_kind() == "c"


def test_python_fallback_records_what_the_c_hook_records(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    (tmp_path / "py").mkdir()
    with_c = _record(tmp_path / "c", block_c_hook=False)
    with_python = _record(tmp_path / "py", block_c_hook=True)
    assert with_python["kind"] == "python"
    assert with_c["kind"] in {"c", "python"}

    def relative(found: dict[str, object], root: Path) -> dict[str, object]:
        return json.loads(json.dumps(found).replace(str(root), "<tmp>"))

    expected = relative(with_c, tmp_path / "c")
    got = relative(with_python, tmp_path / "py")
    assert expected["side_effects"] == got["side_effects"]
    assert expected["inputs"] == got["inputs"]
    assert any("wrote <tmp>/out.txt" in s for s in got["side_effects"])  # type: ignore[union-attr]
    assert any("ran subprocess" in s for s in got["side_effects"])  # type: ignore[union-attr]
    assert got["inputs"] == ["<tmp>/in.txt"]


def test_c_hook_calls_back_for_watched_events_only_and_never_aborts(tmp_path: Path) -> None:
    pytest.importorskip("elastic_kernel._audit_hook")
    target = tmp_path / "f.txt"
    target.write_text("z")
    code = textwrap.dedent(
        f"""
        from elastic_kernel import _audit_hook
        seen = []
        def callback(event, args):
            seen.append(event)
            raise RuntimeError("a failing callback must not abort the operation")
        _audit_hook.install(callback, ["open", "os.remove"])
        [id(n) for n in range(100)]
        with open({str(target)!r}) as handle:
            assert handle.read() == "z"
        try:
            _audit_hook.install(callback, ["open"])
        except RuntimeError as exc:
            second = str(exc)
        print(seen.count("open") >= 1, set(seen) <= {{"open", "os.remove"}}, second)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        capture_output=True,
        text=True,
        env=dict(os.environ),
    )
    assert out.stdout.split(" ", 2) == ["True", "True", "the audit hook is already installed\n"]


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ("42, ['open']", "TypeError: callback must be callable"),
        ("print, 'open'", "TypeError: events must be a sequence of str, not a str"),
        ("print, ['x' * 100]", "ValueError: an event name is empty or too long"),
        ("print, [1]", "TypeError"),
        ("print", "TypeError: install(callback, events) takes two arguments"),
    ],
)
def test_c_hook_rejects_bad_arguments(arguments: str, error: str) -> None:
    pytest.importorskip("elastic_kernel._audit_hook")
    code = f"from elastic_kernel import _audit_hook\n_audit_hook.install({arguments})"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode != 0
    assert error in out.stderr
