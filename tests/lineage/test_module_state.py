"""Library settings changed by cells: which statements replay on their own, and the replay."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest

from elastic_kernel.lineage import CellRecorder, Execution, HistoryGraph
from elastic_kernel.lineage.module_state import (
    SETTINGS,
    SETTINGS_NOT_REPLAYED,
    changed_modules,
    is_imported,
    module_settings,
    recorded_magics,
    recorded_settings,
    replay,
)

NS: dict[str, object] = {"np": np, "sys": sys, "os": __import__("os"), "n": 3}


@pytest.mark.parametrize(
    ("code", "changed", "replayed", "not_replayed"),
    [
        (
            "import numpy as np\nnp.set_printoptions(precision=3)\nx = 1",
            ["np"],
            [["np.set_printoptions(precision=3)", {"np": "numpy"}]],
            None,
        ),
        (
            "sys.path.append(os.path.join('..', 'src'))",
            ["sys"],
            [["sys.path.append(os.path.join('..', 'src'))", {"sys": "sys", "os": "os"}]],
            None,
        ),
        # Reads a variable, binds a name, or runs in a loop: only a re-run reproduces it.
        ("np.set_printoptions(precision=n)", ["np"], None, ["np"]),
        ("for k in range(2):\n    np.set_printoptions(precision=k)", ["np"], None, ["np"]),
        ("old = np.set_printoptions(precision=4)", ["np"], None, ["np"]),
        ("n = 1", [], None, None),
        # One change replays, the other does not: the module is still stale.
        (
            "np.set_printoptions(precision=3)\nnp.set_printoptions(linewidth=n)",
            ["np"],
            [["np.set_printoptions(precision=3)", {"np": "numpy"}]],
            ["np"],
        ),
    ],
)
def test_which_statements_replay(
    code: str, changed: list[str], replayed: object, not_replayed: object
) -> None:
    extras = module_settings(code, NS, changed)
    assert extras.get(SETTINGS) == replayed
    assert extras.get(SETTINGS_NOT_REPLAYED) == not_replayed


def test_a_module_made_in_a_cell_cannot_be_imported_again() -> None:
    ns = {"m": types.ModuleType("m")}
    assert module_settings("m.v = 2", ns, ["m"]) == {SETTINGS_NOT_REPLAYED: ["m"]}


def test_recorded_settings_replay_and_unreplayable_ones_make_the_module_stale() -> None:
    ns: dict[str, object] = {}
    recorder = CellRecorder(ns, hidden=set())
    cells = [
        "import numpy as np\nprecision = 5",
        "np.set_printoptions(precision=4)",
        "np.set_printoptions(linewidth=precision * 20)",
    ]
    before = np.get_printoptions()
    try:
        for i, code in enumerate(cells):
            pending = recorder.start(code, execution_count=i + 1)
            exec(code, ns)
            recorder.finish(pending, ok=True)
        np.set_printoptions(**before)
        assert replay(recorded_settings(recorder.graph)) == []
        assert np.get_printoptions()["precision"] == 4
        stale = changed_modules(ns, recorder.graph, ["np", "precision"])
        assert list(stale) == ["np"] and "cell 3" in stale["np"]
    finally:
        np.set_printoptions(**before)


def test_a_failing_replay_is_a_note_not_an_error() -> None:
    graph = HistoryGraph()
    graph.append(
        Execution(
            index=0,
            execution_count=1,
            cell_id=None,
            code="gone.flag = True",
            started=0.0,
            duration=0.0,
            ok=True,
            reads=(),
            writes=(),
            deletes=(),
            extra={SETTINGS: [["gone.flag = True", {"gone": "no_such_module_anywhere"}]]},
        )
    )
    notes = replay(recorded_settings(graph))
    assert len(notes) == 1
    assert "could not replay 'gone.flag = True'" in notes[0]
    assert "ModuleNotFoundError" in notes[0]


def test_a_cell_that_raised_replays_nothing() -> None:
    ns: dict[str, object] = {}
    recorder = CellRecorder(ns, hidden=set())
    exec("import numpy as np", ns)
    code = "np.set_printoptions(precision=4)\nraise ValueError('stopped')\nnp.seterr(all='ignore')"
    before, errors = np.get_printoptions(), np.geterr()
    pending = recorder.start(code, execution_count=1)
    try:
        with pytest.raises(ValueError):
            exec(code, ns)
    finally:
        np.set_printoptions(**before)
        np.seterr(**errors)
    execution = recorder.finish(pending, ok=False)
    assert execution is not None
    assert SETTINGS not in execution.extra
    assert execution.extra[SETTINGS_NOT_REPLAYED] == ["np"]


def test_settings_whose_modules_are_imported_replay_instantly() -> None:
    assert is_imported(("sys.path.append('x')", {"sys": "sys"}))
    assert not is_imported(("gone.flag = 1", {"gone": "no_such_module_anywhere"}))


def test_settings_magics_are_recorded_for_replay_except_the_default_backend() -> None:
    from IPython.core.inputtransformer2 import TransformerManager

    code = TransformerManager().transform_cell(
        "%load_ext autoreload\n%matplotlib inline\n%matplotlib widget"
    )
    recorder = CellRecorder({}, hidden=set())
    pending = recorder.start(code, execution_count=1)
    recorder.finish(pending, ok=True)
    assert recorded_magics(recorder.graph) == [
        (0, "get_ipython().run_line_magic('load_ext', 'autoreload')"),
        (0, "get_ipython().run_line_magic('matplotlib', 'widget')"),
    ]


def test_a_replay_that_hit_an_import_deadlock_is_tried_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What Python raises to the thread whose import it failed to break a two-thread cycle.
    (tmp_path / "settings_twice.py").write_text(
        "calls = 0\n"
        "class _DeadlockError(RuntimeError):\n    pass\n"
        "def apply():\n"
        "    global calls\n"
        "    calls += 1\n"
        "    if calls == 1:\n"
        "        raise ImportError('cycle') from _DeadlockError('deadlock detected')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert replay([("m.apply()", {"m": "settings_twice"})]) == []
    assert sys.modules["settings_twice"].calls == 2
